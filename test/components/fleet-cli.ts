/**
 * A component round trip as a user runs it: the sshd fleet as the cluster (real SSH, real
 * sudo), an Ansible build directory with inventory and host_vars, the built CLI for
 * `apply` and `restore`, and a local target directory. Everything lives in one temp dir.
 */
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { repoRoot, runCli, type CliResult } from '../helpers/cli.js';

export const RECIPES_DIR = join(repoRoot, 'recipes');

export interface ClusterWorkspace {
  dir: string;
  fleet: Fleet;
  build: string;
  target: string;
  /** Writes `build/host_vars/<host>.yml`. */
  hostVars(host: string, vars: Record<string, unknown>): Promise<void>;
  apply(recipes: string, ...extra: string[]): Promise<CliResult>;
  restore(archive: string, ...extra: string[]): Promise<CliResult>;
  /** The newest archive in the target directory (names sort by time). */
  latestArchive(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function clusterWorkspace(groupsByHost: Record<string, string[]>): Promise<ClusterWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), 'lsb-comp-'));
  let fleet: Fleet;
  try {
    fleet = await startFleet({ hosts: Object.keys(groupsByHost).length });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const build = join(dir, 'build');
  const target = join(dir, 'backups');
  fleet.writeInventory(build, groupsByHost);
  const cli = (args: string[]) => runCli(args, { timeoutMs: 300_000 });
  return {
    dir,
    fleet,
    build,
    target,
    hostVars: async (host, vars) => {
      await mkdir(join(build, 'host_vars'), { recursive: true });
      await writeFile(join(build, 'host_vars', `${host}.yml`), stringify(vars));
    },
    apply: (recipes, ...extra) => cli(['apply', recipes, '-b', build, '-t', target, ...extra]),
    restore: (archive, ...extra) => cli(['restore', archive, '-b', build, '--yes', ...extra]),
    latestArchive: async () => {
      const names = (await readdir(target)).filter((n) => /\.tar\.gz$/.test(n)).sort();
      if (names.length === 0) throw new Error(`no archive in ${target}`);
      return join(target, names.at(-1)!);
    },
    cleanup: async () => {
      await fleet.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The CLI's output as one string for assertion messages. */
export const cliOutput = (r: CliResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
