/**
 * A local cluster in a temp dir for the archive integrity tests: one `ansible_connection=local`
 * host (or the inventory given), a recipes dir, a data dir and a local target. The steps a user
 * takes (apply, verify, restore) run through the built CLI.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { cliOutput, recipeYaml, runCli, workspace, type CliResult } from '../helpers/cli.js';

export interface LocalCluster {
  dir: string;
  build: string;
  target: string;
  recipes: string;
  data: string;
  write: (rel: string, text: string) => Promise<string>;
  /** Writes recipes/<name>.yaml with `spec` (YAML under `spec:`). */
  recipe: (name: string, spec: string) => Promise<string>;
  apply: (extra?: string[], env?: Record<string, string>) => Promise<CliResult>;
  /** apply with `extra`, which must succeed: the tar.gz archive it added to the target, its metadata sidecar, and what the run printed. */
  backup: (extra: string[]) => Promise<{ name: string; metadata: BackupMetadata; output: string }>;
  /** The one archive in the target (with this suffix). */
  archive: (suffix?: string) => Promise<string>;
  /** The archive's metadata sidecar, parsed. */
  sidecar: (archive: string) => Promise<{ entries: SidecarEntry[]; hosts: { name: string }[] }>;
  verify: (archive: string, env?: Record<string, string>) => Promise<CliResult>;
  restore: (archive: string, extra?: string[], env?: Record<string, string>) => Promise<CliResult>;
  cleanup: () => Promise<void>;
}

export interface SidecarEntry {
  path: string;
  type: string;
  size: number;
  changedDuringRead?: boolean;
  error?: string;
}

/**
 * `cliTimeoutMs`: how long one CLI call may take before it is killed (runCli's default is 120 s).
 * A test that moves much data raises it: under load its CLI calls are slow, not hung.
 */
export async function localCluster(
  inventory = '[app]\nlocalhost ansible_connection=local\n',
  { cliTimeoutMs }: { cliTimeoutMs?: number } = {},
): Promise<LocalCluster> {
  const ws = await workspace('lsb-integrity-');
  const at = (rel: string) => path.join(ws.dir, rel);
  await ws.write('build/inventory', inventory);
  const target = at('backups');
  const recipes = at('recipes');
  const build = at('build');
  const apply: LocalCluster['apply'] = (extra = [], env) => runCli(['apply', recipes, '-b', build, '-t', target, ...extra], { env, timeoutMs: cliTimeoutMs });
  return {
    dir: ws.dir,
    build,
    target,
    recipes,
    data: at('data'),
    write: ws.write,
    recipe: (name, spec) => ws.write(`recipes/${name}.yaml`, recipeYaml(name, spec)),
    apply,
    backup: async (extra) => {
      const before = new Set(await readdir(target).catch(() => []));
      const run = await apply(extra);
      expect(run.exitCode, cliOutput(run)).toBe(0);
      const added = (await readdir(target)).filter((n) => !before.has(n) && n.endsWith('.tar.gz'));
      expect(added, 'one new archive').toHaveLength(1);
      return { name: added[0]!, metadata: JSON.parse(await readFile(path.join(target, `${added[0]}.metadata.json`), 'utf8')), output: cliOutput(run) };
    },
    archive: async (suffix = '.tar.gz') => {
      const names = (await readdir(target)).filter((n) => n.endsWith(suffix));
      if (names.length !== 1) throw new Error(`expected one *${suffix} in ${target}, found ${names.join(', ') || 'none'}`);
      return path.join(target, names[0]!);
    },
    sidecar: async (archive) => JSON.parse(await readFile(`${archive}.metadata.json`, 'utf8')),
    verify: (archive, env) => runCli(['verify', path.basename(archive), '-t', target], { env, timeoutMs: cliTimeoutMs }),
    // Unsigned backups run the installed recipes: these, the ones the backup was made with.
    restore: (archive, extra = [], env) => runCli(['restore', archive, '-b', build, '--yes', '--recipes', recipes, ...extra], { env, timeoutMs: cliTimeoutMs }),
    cleanup: ws.cleanup,
  };
}

/** A directory `<data>/tree` and the recipe `app` that collects it and restores it with a `files:` step. */
export async function collectedTree(c: LocalCluster): Promise<string> {
  const tree = path.join(c.data, 'tree');
  await mkdir(tree, { recursive: true });
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\nrestore:\n  apply:\n    - files: ${tree}\n`);
  return tree;
}

export { cliOutput };
