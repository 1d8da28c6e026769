/**
 * A cluster as a user drives it, for tests through the BUILT CLI (`npm run build` first): one
 * temp dir with an Ansible build dir (inventory + host_vars) for an sshd fleet's hosts (the
 * caller starts and stops the fleet) or for the local host, a local target directory, and
 * `apply` / `restore`. The CLI runs with a HOME of its own (an empty ~/.ssh) and no ssh-agent,
 * so the real ~/.ssh is never read or written.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BackupMetadata } from '../../engine/archive/index.js';
import type { Fleet } from '../fleet/fleet.js';
import { archivesIn, readMetadata } from './archive.js';
import { recipeYaml, repoRoot, runCli, succeeded, type CliResult } from './cli.js';

export const RECIPES_DIR = path.join(repoRoot, 'recipes');

/** The shipped recipe file for a component. */
export function shippedRecipe(name: string): string {
  return path.join(RECIPES_DIR, `${name}.yaml`);
}

export interface ClusterOptions {
  /** An sshd fleet whose hosts `groups` puts into inventory groups… */
  fleet?: Fleet;
  groups?: Record<string, string[]>;
  /** …or the local host (`localhost ansible_connection=local`) in these groups. */
  local?: string[];
  /** Initial `host_vars/<host>.yml` (inventory vars override a recipe's var defaults of the same name). */
  hostVars?: Record<string, Record<string, unknown>>;
  /**
   * Gives every fleet host in `groups` its own data dir, also its host var `data` (the hosts
   * share this machine's filesystem).
   */
  dataDirs?: boolean;
  /** Extra environment for every CLI run (secrets a recipe reads). */
  env?: Record<string, string>;
}

/** An `apply` run and the archive it added to the target (absent when none or several were). */
export interface ApplyResult extends CliResult {
  archive?: string;
  metadata?: BackupMetadata;
}

export interface Cluster {
  /** World-traversable root (the fleet users must reach files the test puts here). */
  dir: string;
  build: string;
  target: string;
  /** Where writeRecipe puts recipes: pass it to apply. */
  recipes: string;
  /** HOME of the CLI: an empty ~/.ssh. */
  home: string;
  /** The environment every CLI run gets (also for spawnCli). */
  env: Record<string, string>;
  /** Data dir of host `name` (with `dataDirs`). */
  dataDir(name: string): string;
  /** Writes `host_vars/<host>.yml`: these vars (plus `data` with `dataDirs`). */
  hostVars(host: string, vars: Record<string, unknown>): Promise<void>;
  writeRecipe(name: string, spec: string): Promise<void>;
  /** `lsbackup apply <recipes…> -b build -t <into>` (default: the target). */
  apply(recipes: string | string[], extra?: string[], into?: string): Promise<ApplyResult>;
  /** apply that must succeed and add one archive: its path (throws with the output otherwise). */
  backup(recipes: string | string[], extra?: string[]): Promise<string>;
  /** `lsbackup restore <archive> -b build --yes`. */
  restore(archive: string, extra?: string[]): Promise<CliResult>;
  cleanup(): Promise<void>;
}

const CLI_TIMEOUT_MS = 300_000;

export async function createCluster(options: ClusterOptions): Promise<Cluster> {
  if (!options.fleet === !options.local || !options.fleet !== !options.groups) {
    throw new Error('createCluster: give either fleet with groups, or local');
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-cluster-'));
  await chmod(dir, 0o755);
  const build = path.join(dir, 'build');
  const target = path.join(dir, 'backups');
  const recipes = path.join(dir, 'recipes');
  const home = path.join(dir, 'home');
  const env = { ...options.env, HOME: home, SSH_AUTH_SOCK: '' };
  for (const d of [recipes, path.join(home, '.ssh'), path.join(build, 'host_vars')]) await mkdir(d, { recursive: true });

  if (options.fleet) options.fleet.writeInventory(build, options.groups!);
  else await writeFile(path.join(build, 'inventory'), options.local!.map((g) => `[${g}]\nlocalhost ansible_connection=local\n`).join('\n'));

  const dataDir = (name: string) => path.join(dir, 'data', name);
  const hostVars = async (host: string, vars: Record<string, unknown>) => {
    const all = options.dataDirs ? { data: dataDir(host), ...vars } : vars;
    // JSON is YAML: no quoting rules to get wrong for paths and globs.
    await writeFile(path.join(build, 'host_vars', `${host}.yml`), JSON.stringify(all, null, 2) + '\n');
  };
  if (options.dataDirs) {
    for (const host of Object.keys(options.groups ?? {})) {
      await mkdir(dataDir(host), { recursive: true, mode: 0o755 });
      await hostVars(host, {});
    }
  }
  for (const [host, vars] of Object.entries(options.hostVars ?? {})) await hostVars(host, vars);

  const cli = (args: string[]) => runCli(args, { env, timeoutMs: CLI_TIMEOUT_MS });
  const apply = async (recipeArgs: string | string[], extra: string[] = [], into = target): Promise<ApplyResult> => {
    const before = new Set(await archivesIn(into));
    const result = await cli(['apply', ...[recipeArgs].flat(), '-b', build, '-t', into, ...extra]);
    const added = (await archivesIn(into)).filter((n) => !before.has(n));
    if (added.length !== 1) return result;
    const archive = path.join(into, added[0]!);
    return { ...result, archive, metadata: await readMetadata(archive) };
  };

  return {
    dir,
    build,
    target,
    recipes,
    home,
    env,
    dataDir,
    hostVars,
    writeRecipe: (name, spec) => writeFile(path.join(recipes, `${name}.yaml`), recipeYaml(name, spec)),
    apply,
    backup: async (recipeArgs, extra = []) => {
      const run = succeeded(await apply(recipeArgs, extra), 'lsbackup apply');
      if (!run.archive) throw new Error(`expected one new archive in ${target}, found ${(await archivesIn(target)).join(', ') || 'none'}`);
      return run.archive;
    },
    // Unsigned backups run the installed recipes: the test's own (writeRecipe) when it has any,
    // else the bundled ones.
    restore: async (archive, extra = []) => {
      const own = (await readdir(recipes)).length > 0 && !extra.includes('--recipes');
      return cli(['restore', archive, '-b', build, '--yes', ...(own ? ['--recipes', recipes] : []), ...extra]);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
