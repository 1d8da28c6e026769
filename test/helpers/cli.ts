import { execa, type ResultPromise } from 'execa';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = path.join(repoRoot, 'dist/cli/lsbackup.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the BUILT CLI as a user would (npm test builds first); with `user`, as that user of this
 * machine (runuser: the integration tier runs as root), `env` added to ours.
 */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; user?: string } = {},
): Promise<CliResult> {
  const command = options.user ? ['runuser', '-u', options.user, '--', process.execPath] : ['node'];
  const r = await execa(command[0]!, [...command.slice(1), cliPath, ...args], {
    cwd: options.cwd ?? os.tmpdir(),
    env: options.env,
    reject: false,
    timeout: options.timeoutMs ?? 120_000,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A CLI run's output for assertion messages. */
export function cliOutput(r: CliResult): string {
  return `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The run itself; throws with its output unless it exited 0 (a set-up step that must work). */
export function succeeded<T extends CliResult>(r: T, what = 'lsbackup'): T {
  if (r.exitCode !== 0) throw new Error(`${what} failed\n${cliOutput(r)}`);
  return r;
}

/** The component × host rows of the summary table `apply` prints on stdout. */
export function summaryRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/))
    .filter((cells) => cells.length >= 3 && /^(success|failed|skipped|partial)$/.test(cells[2]!));
}

/** Starts the CLI without waiting (signal tests). */
export function spawnCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): ResultPromise {
  return execa('node', [cliPath, ...args], { cwd: options.cwd ?? os.tmpdir(), env: options.env, reject: false, stdin: 'ignore' });
}

/** A temp workspace with helpers to write files into it. Remove it with cleanup(). */
export async function workspace(prefix = 'lsb-test-'): Promise<{
  dir: string;
  write: (rel: string, text: string) => Promise<string>;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    dir,
    write: async (rel, text) => {
      const file = path.join(dir, rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, text);
      return file;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A minimal valid recipe body; `spec` is YAML indented under `spec:`. */
export function recipeYaml(name: string, spec: string, version = '1.0.0'): string {
  return `apiVersion: lsbackup/v1
kind: Recipe
metadata:
  name: ${name}
  version: ${version}
  description: test recipe ${name}
spec:
${spec
  .split('\n')
  .map((l) => (l ? '  ' + l : l))
  .join('\n')}
`;
}

/** The --json lines of a command (docs/json.md), parsed; with `type`, only the events of that type. */
export function jsonEvents<T = Record<string, unknown>>(stdout: string, type?: string): (T & { type: string })[] {
  const events = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T & { type: string });
  return type === undefined ? events : events.filter((e) => e.type === type);
}

/** How the first step whose name starts with `name` ended, and the tails it printed (a run with --json). */
export function stepEnd(r: CliResult, name: string): { status: string; stdout: string; stderr: string } {
  const end = jsonEvents<{ step: string; status: string; stdoutTail?: string; stderrTail?: string }>(r.stdout, 'step.end').find((e) => e.step.startsWith(name));
  if (!end) throw new Error(`no step.end of a step '${name}…' in:\n${cliOutput(r)}`);
  return { status: end.status, stdout: end.stdoutTail ?? '', stderr: end.stderrTail ?? '' };
}

/** The one event of `type` a command printed (show.backup, prune.result, config.show, …). */
export function jsonEvent<T = Record<string, unknown>>(stdout: string, type: string): T & { type: string } {
  const found = jsonEvents<T>(stdout, type);
  if (found.length !== 1) throw new Error(`expected one '${type}' event, got ${found.length} in:\n${stdout}`);
  return found[0]!;
}
