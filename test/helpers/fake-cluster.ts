/**
 * Fakes for in-process tests of runBackup / runRestore (unit tier): hosts that answer recipe
 * commands from a script, a reporter that keeps events, a target whose copy never gets stored,
 * and real recipe/inventory files loaded by the real loaders. Real hosts (local and sshd), real
 * targets (local, Swift S3, Azure Files stand-in) are covered by the integration tests each test
 * file names in its header.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LsError } from '../../engine/errors.js';
import type { ExecutorFactory } from '../../engine/executors/pool.js';
import type { CommandResult, Executor, RunOptions } from '../../engine/executors/types.js';
import { loadInventory } from '../../engine/inventory/index.js';
import { loadRecipes } from '../../engine/recipes/index.js';
import type { Reporter, RunEvent } from '../../engine/report/events.js';
import { runBackup, type BackupOptions } from '../../engine/runner/backup.js';
import { createRedactor } from '../../engine/secrets/index.js';
import { createLocalTarget } from '../../targets/local.js';
import type { Target } from '../../targets/types.js';
import { recipeYaml } from './cli.js';

/** What a host answers to one command; undefined: the shell does not know it (exit 127). */
export interface Answer {
  exitCode?: number;
  stdout?: string;
  stderr?: string;
}
export type HostScript = (command: string, host: string) => Answer | undefined;

export interface Call {
  host: string;
  command: string;
  /** What the command got on stdin (restore `input:` steps). */
  stdin?: Buffer;
}

/** Hosts answering from `script`; `unreachable` hosts fail to connect as SSH would (ECONNECT). */
export function scriptedHosts(script: HostScript, unreachable: string[] = []): { factory: ExecutorFactory; calls: Call[] } {
  const calls: Call[] = [];
  const factory: ExecutorFactory = async (host) => {
    if (unreachable.includes(host.name)) throw new LsError('ECONNECT', { host: host.name, message: 'connect ECONNREFUSED (scripted)' });
    const executor: Executor = {
      hostName: host.name,
      connect: async () => undefined,
      close: async () => undefined,
      run: async (command: string, options: RunOptions = {}): Promise<CommandResult> => {
        const call: Call = { host: host.name, command };
        calls.push(call);
        if (options.stdin !== undefined) call.stdin = await readAll(options.stdin);
        const answer = script(command, host.name) ?? { exitCode: 127, stderr: `sh: ${command}: not found` };
        const exitCode = answer.exitCode ?? 0;
        const stdout = answer.stdout ?? '';
        // Like the real executors: stdout goes to the sink when one is given (not ended), else it is captured.
        if (options.stdout && stdout) await new Promise<void>((resolve, reject) => options.stdout!.write(stdout, (e) => (e ? reject(e) : resolve())));
        return {
          command,
          host: host.name,
          exitCode,
          stdout: options.stdout ? '' : stdout,
          stderr: answer.stderr ?? '',
          durationMs: 1,
          timedOut: false,
          failed: exitCode !== 0,
        };
      },
    };
    return executor;
  };
  return { factory, calls };
}

async function readAll(input: Readable | Buffer | string): Promise<Buffer> {
  if (typeof input === 'string') return Buffer.from(input);
  if (Buffer.isBuffer(input)) return input;
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Keeps every event a run emits. */
export function keptEvents(): { reporter: Reporter; events: RunEvent[]; warnings: () => string[] } {
  const events: RunEvent[] = [];
  return {
    reporter: { emit: (e) => events.push(e), close: () => undefined },
    events,
    warnings: () => events.flatMap((e) => (e.type === 'warning' ? [e.message] : [])),
  };
}

/** `inner` with every upload's commit failing (a target that fills up at the end): its copy is never stored. */
export function targetThatCannotStore(inner: Target, why: string | Error): Target {
  return {
    ...inner,
    uri: inner.uri,
    check: () => inner.check(),
    list: () => inner.list(),
    stat: (name) => inner.stat(name),
    get: (name) => inner.get(name),
    delete: (name) => inner.delete(name),
    put: async (name, options) => {
      const upload = await inner.put(name, options);
      return {
        ...upload,
        abort: () => upload.abort(),
        commit: async () => {
          await upload.abort();
          throw typeof why === 'string' ? new Error(why) : why;
        },
      };
    },
  };
}

/** A temp directory with real recipe and inventory files, loaded by the real loaders. */
export async function scratch(prefix: string): Promise<{
  dir: string;
  recipes: (specs: Record<string, string>) => ReturnType<typeof loadRecipes>;
  inventory: (ini: string) => ReturnType<typeof loadInventory>;
  /** A new empty directory (a local target). */
  subdir: (name: string) => Promise<string>;
  /** The names in a directory, sorted. */
  names: (dir: string) => Promise<string[]>;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    dir,
    recipes: async (specs) => {
      const recipesDir = await mkdtemp(path.join(dir, 'recipes-'));
      for (const [name, spec] of Object.entries(specs)) await writeFile(path.join(recipesDir, `${name}.yaml`), recipeYaml(name, spec));
      return loadRecipes([recipesDir]);
    },
    inventory: async (ini) => {
      const file = path.join(dir, 'inventory.ini');
      await writeFile(file, ini);
      return loadInventory(file);
    },
    subdir: async (name) => {
      const sub = path.join(dir, name);
      await mkdir(sub, { recursive: true });
      return sub;
    },
    names: async (d) => (await readdir(d)).sort(),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The example cluster of the in-process tests: two db hosts. */
export const INVENTORY = '[db]\ndb-1\ndb-2\n';
/** alpha must be on every db host; beta is optional (absent is "not installed", not a failure). */
export const RECIPES = {
  alpha: `hosts: { group: db, run: all }
detect: has-alpha
backup:
  snapshot:
    - name: dump
      run: dump-alpha
      output: alpha.sql
restore:
  apply:
    - name: load
      run: load-alpha
      input: alpha.sql
`,
  beta: `optional: true
hosts: { group: db, run: all }
detect: has-beta
backup:
  snapshot:
    - name: dump
      run: dump-beta
      output: beta.txt
restore:
  apply:
    - name: load
      run: load-beta
      input: beta.txt
`,
};

/** Every host has both components and dumps `<component> on <host>`; `overrides` change single answers. */
export function healthy(overrides: Record<string, Answer | ((host: string) => Answer | undefined)> = {}): HostScript {
  return (command, host) => {
    const o = overrides[command];
    const custom = typeof o === 'function' ? o(host) : o;
    if (custom) return custom;
    if (command === 'has-alpha' || command === 'has-beta') return {};
    if (command === 'dump-alpha') return { stdout: `alpha on ${host}\n` };
    if (command === 'dump-beta') return { stdout: `beta on ${host}\n` };
    return undefined;
  };
}

export type Scratch = Awaited<ReturnType<typeof scratch>>;
export type BackupExtras = Partial<BackupOptions> & { unreachable?: string[]; recipeSpecs?: Record<string, string> };

/** runBackup of `recipeSpecs` (default RECIPES) on INVENTORY's hosts answering `script`, into the local target `<scratch>/target` unless `targets` is given. */
export async function backUp(s: Scratch, script: HostScript, extra: BackupExtras = {}) {
  const { unreachable, recipeSpecs = RECIPES, ...options } = extra;
  const hosts = scriptedHosts(script, unreachable);
  const kept = keptEvents();
  const targetDir = await s.subdir('target');
  const result = await runBackup({
    recipes: await s.recipes(recipeSpecs),
    inventory: await s.inventory(INVENTORY),
    targets: [createLocalTarget(targetDir)],
    cluster: 'c1',
    format: 'tar.gz',
    concurrency: 4,
    defaultStepTimeoutSec: 60,
    secrets: new Map(),
    executorFactory: hosts.factory,
    reporter: kept.reporter,
    redactor: createRedactor(),
    signal: new AbortController().signal,
    ...options,
  });
  return { result, targetDir, calls: hosts.calls, ...kept };
}
