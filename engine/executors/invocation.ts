/**
 * Turns (command, become, env) into one `sh` command line plus a prologue written to the
 * command's stdin ahead of the real data. Secrets (env values, the sudo password) travel only
 * in the prologue, never on a command line that `ps` shows, and they survive sudo's
 * environment reset because they are exported after sudo. Local and SSH hosts both use it.
 */
import { randomBytes } from 'node:crypto';
import type { Become } from './types.js';
import { becomeArgv } from './become.js';
import { shellQuote as shQuote } from '../template/quote.js';

export interface RemoteInvocation {
  commandLine: string;
  /** Bytes to write to stdin before the caller's stdin; empty when none. */
  prologue: Buffer;
}

/**
 * Runs as the target user (after sudo). $1 is a per-run marker, $2 the command, the rest are
 * env names. Lines before the marker are discarded: that is the sudo password when sudo did
 * not need to read it (NOPASSWD or cached credentials), so it can never leak into the data.
 * Each value is one line with `\` and newline escaped, decoded by printf %b; the trailing
 * `x` keeps $(...) from stripping trailing newlines of the value.
 */
const ENV_READER = [
  'm=$1; c=$2; shift 2',
  'while :; do IFS= read -r l || exit 125; [ "$l" = "$m" ] && break; done',
  'for n; do IFS= read -r v || exit 125; v=$(printf "%bx" "$v"); export "$n=${v%x}"; done',
  'exec sh -c "$c"',
].join('\n');

/**
 * sudo replaces PATH with its secure_path, which on RHEL (/sbin:/bin:/usr/sbin:/usr/bin) leaves
 * out /usr/local/bin, where LambdaStack unpacks Prometheus, promtool and Alertmanager: a recipe's
 * `prometheus --version` found as the login user would not be found as root. Both directories go
 * last (as in Debian's secure_path), so a system binary still wins; present ones are not repeated.
 */
const BECOME_PATH = 'for d in /usr/local/sbin /usr/local/bin; do case ":$PATH:" in *":$d:"*) ;; *) PATH=${PATH:+$PATH:}$d ;; esac; done; export PATH';

/**
 * Wraps a become command so a timeout or abort really ends it. sshd signals the session as
 * the login user, which cannot reach root processes, and sudo does not relay signals sent to
 * its whole process group; but sudo itself does die. So this root shell watches its parent
 * (sudo) and, once it is gone, terminates its process group (sudo gave it a group of its own).
 * fd 3: a background job gets /dev/null as stdin before its own redirections, so the real
 * stdin is kept aside and given back explicitly.
 */
const TERM_WHOLE_GROUP = [
  BECOME_PATH,
  'p=$PPID',
  "trap 'trap - TERM; kill -TERM 0' TERM INT HUP",
  'exec 3<&0',
  'sh -c "$1" <&3 3<&- &',
  'exec 3<&-',
  'c=$!',
  '(while kill -0 "$p" 2>/dev/null; do sleep 1; done; kill -TERM 0) </dev/null >/dev/null 2>&1 &',
  'w=$!',
  'wait "$c"; s=$?',
  'kill "$w" 2>/dev/null',
  'exit "$s"',
].join('\n');

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function buildInvocation(command: string, options: { become?: Become; env?: Record<string, string> }): RemoteInvocation {
  const { become } = options;
  const env = Object.entries(options.env ?? {});
  for (const [name] of env) {
    if (!ENV_NAME.test(name)) throw new Error(`invalid environment variable name '${name}'`);
  }
  if (become) command = ['sh', '-c', TERM_WHOLE_GROUP, 'lsbackup', command].map(shQuote).join(' ');
  if (env.length === 0 && become?.password === undefined) {
    return { commandLine: execLine(becomeArgv(command, become)), prologue: Buffer.alloc(0) };
  }
  const marker = `lsbackup-${randomBytes(12).toString('hex')}`;
  // `sh -c ENV_READER lsbackup marker command names...`: $0 is 'lsbackup', $1 the marker.
  const argv = [...becomeArgv(ENV_READER, become), 'lsbackup', marker, command, ...env.map(([name]) => name)];
  const lines = [
    ...(become?.password !== undefined ? [become.password] : []),
    marker,
    ...env.map(([, value]) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')),
  ];
  return { commandLine: execLine(argv), prologue: Buffer.from(lines.join('\n') + '\n') };
}

/**
 * The login shell (sshd's, or ours locally) execs the command instead of waiting for it, so a
 * command killed by a signal is reported as killed, not as exit code 128+n.
 */
function execLine(argv: string[]): string {
  return `exec ${argv.map(shQuote).join(' ')}`;
}
