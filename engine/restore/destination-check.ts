/**
 * What a `files:` step asks the host just before it writes, in ONE command (as the step's user,
 * through the same executor as the write): who the step runs as, which directories on the way
 * are symbolic links and who owns each (./host-links.ts judges them), which owner names the host
 * lacks (./host-owners.ts), and which tar the host has (./host-tar.ts). One command, not one per
 * question: over SSH each is a channel, a fork and two shells on the host.
 *
 * Questions travel NUL-separated on stdin, never through the command line, tagged `d:` (a
 * directory), `u:` (a user name) or `g:` (a group name); the answer is one line per question, in
 * order (`-` or the link's uid; getent's exit code), so no path or name comes back through a text
 * decoding. `[ -h ]` and `ls -ld` do not follow the link itself.
 */
import type { CommandResult, Executor, RunOptions } from '../executors/types.js';
import type { HostLink } from './host-links.js';
import type { OwnerName } from './host-owners.js';

export interface DestinationQuestions {
  /** Host directories the entries are written in (./host-links.ts directoriesOnTheWay). */
  dirs: string[];
  /** User and group names the entries carry (./host-owners.ts ownerNames). */
  owners: OwnerName[];
}

export interface DestinationFacts {
  /** The uid the step runs as on the host. */
  stepUid: number;
  links: HostLink[];
  /** Owner names the host does not know (getent exit 2). */
  missingOwners: OwnerName[];
  /** The first line of `tar --version`, '' when tar did not answer. */
  tarVersion: string;
}

export type DestinationAnswer = { failed: CommandResult } | ({ failed?: undefined } & DestinationFacts);

const ANSWER_EACH = [
  `for a do case "$a" in`,
  `d:*) d="\${a#d:}"; if [ -h "$d" ]; then ls -ldn "$d" | { read -r mode links uid rest; echo "$uid"; }; else echo -; fi;;`,
  `u:*) getent passwd "\${a#u:}" >/dev/null; echo $?;;`,
  `*) getent group "\${a#g:}" >/dev/null; echo $?;;`,
  `esac; done`,
].join('\n');

export async function askDestination(executor: Executor, questions: DestinationQuestions, run: RunOptions): Promise<DestinationAnswer> {
  const { dirs, owners } = questions;
  const tarLine = `printf '%s\\n' "$(tar --version 2>/dev/null | head -n 1)"`;
  const script = `id -u && ${tarLine} && xargs -0 sh -c '${ANSWER_EACH}' sh`;
  const tagged = [...dirs.map((d) => `d:${d}`), ...owners.map((o) => `${o.kind === 'user' ? 'u' : 'g'}:${o.name}`)];
  const result = await executor.run(script, { ...run, stdin: Buffer.from(tagged.join('\0')) });
  if (result.failed) return { failed: result };
  const lines = result.stdout.split('\n');
  const stepUid = Number(lines[0]);
  const linkAnswers = lines.slice(2, 2 + dirs.length);
  const ownerAnswers = lines.slice(2 + dirs.length, 2 + tagged.length);
  const wellFormed =
    lines[0] !== '' &&
    Number.isInteger(stepUid) &&
    linkAnswers.length === dirs.length &&
    linkAnswers.every((a) => a === '-' || /^\d+$/.test(a)) &&
    ownerAnswers.length === owners.length &&
    ownerAnswers.every((a) => a === '0' || a === '2');
  if (!wellFormed) {
    const stderr = `${result.stderr}unexpected answer from the host (${Math.max(0, lines.length - 3)} answers to ${tagged.length} questions; are xargs and getent installed?)`;
    return { failed: { ...result, failed: true, stderr } };
  }
  return {
    stepUid,
    links: dirs.flatMap((dir, i) => (linkAnswers[i] === '-' ? [] : [{ path: dir, uid: Number(linkAnswers[i]) }])),
    missingOwners: owners.filter((_, i) => ownerAnswers[i] === '2'),
    tarVersion: lines[1]!,
  };
}
