/**
 * A component round trip through the BUILT CLI, as a user runs it: a build directory with an
 * inventory and host_vars, one shipped recipe from recipes/, a local target directory;
 * `apply` makes an archive, `restore --yes` plays it back.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot, runCli, workspace, type CliResult } from '../helpers/cli.js';

export interface RoundTrip {
  dir: string;
  build: string;
  target: string;
  /** Writes `<build>/inventory` with the local host (ansible_connection=local) in `groups`. */
  localInventory(...groups: string[]): Promise<void>;
  /** Writes `<build>/host_vars/<host>.yml` (JSON is YAML). */
  hostVars(host: string, vars: Record<string, unknown>): Promise<void>;
  /** `lsbackup apply recipes/<recipe>.yaml`; fails the test with the CLI's output unless it exits 0. */
  backup(extra?: string[]): Promise<string>;
  /** `lsbackup restore <archive> --yes`; fails the test with the CLI's output unless it exits 0. */
  restore(archive: string, extra?: string[]): Promise<CliResult>;
  /** One archive entry's content. */
  entry(archive: string, entryPath: string): Promise<string>;
  entries(archive: string): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function roundTrip(recipe: string, options: { env?: Record<string, string> } = {}): Promise<RoundTrip> {
  const ws = await workspace(`lsb-${recipe}-`);
  const build = path.join(ws.dir, 'build');
  const target = path.join(ws.dir, 'backups');
  const recipeFile = path.join(repoRoot, 'recipes', `${recipe}.yaml`);
  const env = options.env ?? {};
  const checked = (what: string, r: CliResult) => {
    if (r.exitCode !== 0) throw new Error(`lsbackup ${what} exited ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  };
  return {
    dir: ws.dir,
    build,
    target,
    localInventory: async (...groups) =>
      void (await ws.write('build/inventory', groups.map((g) => `[${g}]\nlocalhost ansible_connection=local\n`).join('\n'))),
    hostVars: async (host, vars) => void (await ws.write(`build/host_vars/${host}.yml`, JSON.stringify(vars, null, 2) + '\n')),
    backup: async (extra = []) => {
      const before = new Set(existsSync(target) ? await readdir(target) : []);
      checked('apply', await runCli(['apply', recipeFile, '-b', build, '-t', target, ...extra], { env, timeoutMs: 300_000 }));
      const made = (await readdir(target)).filter((n) => /\.tar\.(gz|zst)$/.test(n) && !before.has(n));
      if (made.length !== 1) throw new Error(`expected one new archive in ${target}, found ${made.join(', ') || 'none'}`);
      return path.join(target, made[0]!);
    },
    restore: async (archive, extra = []) =>
      checked('restore', await runCli(['restore', archive, '-b', build, '--yes', ...extra], { env, timeoutMs: 300_000 })),
    entry: async (archive, entryPath) => (await execa('tar', ['xaOf', archive, entryPath])).stdout,
    entries: async (archive) => (await execa('tar', ['taf', archive])).stdout.split('\n').filter(Boolean),
    cleanup: () => ws.cleanup(),
  };
}

/** The archive's metadata.json sidecar. */
export async function metadataOf(archive: string): Promise<{ status: string; components: Array<{ name: string; status: string; componentVersion?: string; hosts: Array<{ name: string; status: string; error?: string }> }> }> {
  return JSON.parse(await readFile(`${archive}.metadata.json`, 'utf8'));
}
