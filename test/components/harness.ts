/**
 * Round-trip helpers for component recipe tests: a build directory whose inventory is a
 * fleet of real sshd hosts (with host_vars pointing the recipe at the test's servers), and
 * `lsbackup apply` / `restore` through the built CLI (`npm run build` first).
 */
import { execa } from 'execa';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BackupMetadata, ComponentHostRecord, ComponentRecord } from '../../engine/archive/index.js';
import type { Fleet } from '../fleet/fleet.js';
import { repoRoot, runCli, type CliResult } from '../helpers/cli.js';

export interface ComponentBuild {
  /** Temp directory holding build/ and backups/. */
  dir: string;
  build: string;
  target: string;
  cleanup(): Promise<void>;
}

/** The shipped recipe file for a component. */
export function shippedRecipe(name: string): string {
  return path.join(repoRoot, 'recipes', `${name}.yaml`);
}

/**
 * A build dir: the fleet's INI inventory (groups per host) plus `host_vars/<host>.yml` for
 * each host in `hostVars` (inventory vars override a recipe's var defaults of the same name).
 */
export async function componentBuild(
  fleet: Fleet,
  groupsByHost: Record<string, string[]>,
  hostVars: Record<string, Record<string, unknown>> = {},
): Promise<ComponentBuild> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-comp-'));
  const build = path.join(dir, 'build');
  fleet.writeInventory(build, groupsByHost);
  await mkdir(path.join(build, 'host_vars'), { recursive: true });
  // JSON is YAML: no quoting rules to get wrong for paths and globs.
  for (const [host, vars] of Object.entries(hostVars)) {
    await writeFile(path.join(build, 'host_vars', `${host}.yml`), JSON.stringify(vars, null, 2) + '\n');
  }
  return { dir, build, target: path.join(dir, 'backups'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface BackupRun {
  result: CliResult;
  /** The archive written by this run (absent when none was). */
  archive?: string;
  metadata?: BackupMetadata;
}

const CLI_TIMEOUT_MS = 300_000;

/** `lsbackup apply <recipes…> -b <build> -t <target>`; finds the archive this run added. */
export async function applyBackup(b: ComponentBuild, recipes: string[], extra: string[] = []): Promise<BackupRun> {
  const before = new Set(await archives(b.target));
  const result = await runCli(['apply', ...recipes, '-b', b.build, '-t', b.target, ...extra], { timeoutMs: CLI_TIMEOUT_MS });
  const added = (await archives(b.target)).filter((n) => !before.has(n));
  if (added.length !== 1) return { result };
  const archive = path.join(b.target, added[0]!);
  const metadata = JSON.parse(await readFile(`${archive}.metadata.json`, 'utf8')) as BackupMetadata;
  return { result, archive, metadata };
}

/** `lsbackup restore <archive> -b <build> --yes`. */
export function restoreBackup(b: ComponentBuild, archive: string, extra: string[] = []): Promise<CliResult> {
  return runCli(['restore', archive, '-b', b.build, '--yes', ...extra], { timeoutMs: CLI_TIMEOUT_MS });
}

async function archives(target: string): Promise<string[]> {
  try {
    return (await readdir(target)).filter((n) => /\.(tar\.gz|tar\.zst|zip)$/.test(n)).sort();
  } catch {
    return [];
  }
}

/** One entry's content from a tar.gz archive. */
export async function archiveEntry(archive: string, entry: string): Promise<string> {
  return (await execa('tar', ['-xzOf', archive, entry], { stripFinalNewline: false })).stdout;
}

export function componentOf(metadata: BackupMetadata, name: string): ComponentRecord {
  const c = metadata.components.find((x) => x.name === name);
  if (!c) throw new Error(`metadata has no component ${name}: ${metadata.components.map((x) => x.name).join(', ')}`);
  return c;
}

export function hostOf(component: ComponentRecord, host: string): ComponentHostRecord {
  const h = component.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`component ${component.name} has no host ${host}`);
  return h;
}

/** Size of an entry as metadata.json records it (undefined: no such entry). */
export function entrySize(metadata: BackupMetadata, entry: string): number | undefined {
  return metadata.entries.find((e) => e.path === entry)?.size;
}

/** A CLI run's output for assertion messages. */
export function output(r: CliResult): string {
  return `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
