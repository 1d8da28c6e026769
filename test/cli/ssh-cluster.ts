/**
 * Shared set-up for the CLI tests over SSH: a real sshd fleet (test/fleet) as the cluster, a
 * build dir with its inventory, per-host data dirs the recipes read (the hosts share this
 * machine's filesystem, so each gets its own dir through host_vars), a temp HOME so the real
 * ~/.ssh is never read or written, and helpers that check an archive entry by entry.
 */
import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import type { EntryRecord } from '../../engine/archive/types.js';
import type { Fleet } from '../fleet/fleet.js';
import { recipeYaml, runCli, type CliResult } from '../helpers/cli.js';

export interface SshCluster {
  /** World-traversable root (the fleet users must reach the host data dirs). */
  dir: string;
  build: string;
  target: string;
  recipes: string;
  /** HOME for the CLI: an empty ~/.ssh. */
  home: string;
  /** Data dir of host `name` (also the host var `data`). */
  dataDir(name: string): string;
  writeRecipe(name: string, spec: string): void;
  /** host_vars/<name>.yml: `data` plus these (host vars beat the inventory's [all:vars]). */
  setHostVars(name: string, vars: Record<string, string>): void;
  /** lsbackup apply <recipes> -b build -t target, plain (non-TTY) output, HOME=home. */
  apply(...extra: string[]): Promise<CliResult>;
  /** The same into another target directory (one archive per directory keeps checks simple). */
  applyTo(target: string, ...extra: string[]): Promise<CliResult>;
  cleanup(): void;
}

export function sshCluster(fleet: Fleet, groupsByHost: Record<string, string[]>): SshCluster {
  const dir = mkdtempSync(path.join(tmpdir(), 'lsb-ssh-cli-'));
  chmodSync(dir, 0o755);
  const build = path.join(dir, 'build');
  const target = path.join(dir, 'backups');
  const recipes = path.join(dir, 'recipes');
  const home = path.join(dir, 'home');
  for (const d of [recipes, path.join(home, '.ssh'), path.join(build, 'host_vars')]) mkdirSync(d, { recursive: true });
  fleet.writeInventory(build, groupsByHost);
  const dataDir = (name: string) => path.join(dir, 'data', name);
  const setHostVars = (name: string, vars: Record<string, string>) =>
    writeFileSync(path.join(build, 'host_vars', `${name}.yml`), stringify({ data: dataDir(name), ...vars }));
  for (const h of fleet.hosts) {
    if (!groupsByHost[h.name]) continue;
    mkdirSync(dataDir(h.name), { recursive: true, mode: 0o755 });
    setHostVars(h.name, {});
  }
  const applyTo = (to: string, ...extra: string[]) =>
    runCli(['apply', recipes, '-b', build, '-t', to, ...extra], { env: { HOME: home, SSH_AUTH_SOCK: '' }, timeoutMs: 240_000 });
  return {
    dir,
    build,
    target,
    recipes,
    home,
    dataDir,
    setHostVars,
    writeRecipe: (name, spec) => writeFileSync(path.join(recipes, `${name}.yaml`), recipeYaml(name, spec)),
    apply: (...extra) => applyTo(target, ...extra),
    applyTo,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface StoredBackup {
  file: string;
  meta: {
    status: string;
    hosts: { name: string; address: string; groups: string[] }[];
    components: {
      name: string;
      status: string;
      error?: string;
      hosts: { name: string; status: string; error?: string; bytes: number; steps: { phase: string; status: string; error?: string }[] }[];
    }[];
    entries: EntryRecord[];
  };
}

/** The one archive in the target (fails the test if there is not exactly one). */
export function storedBackup(target: string): StoredBackup {
  const names = existsSync(target) ? readdirSync(target).filter((n) => n.endsWith('.tar.gz')) : [];
  expect(names).toHaveLength(1);
  const file = path.join(target, names[0]!);
  return { file, meta: JSON.parse(readFileSync(`${file}.metadata.json`, 'utf8')) };
}

/**
 * Extracts the archive with the system tar and checks every regular file's sha256 (sha256sum)
 * against metadata.json, so a corrupt or unlisted entry fails the test.
 * Returns the extraction dir.
 */
export async function verifyWithSystemTools(backup: StoredBackup, into: string): Promise<string> {
  mkdirSync(into, { recursive: true });
  await execa('tar', ['-xzf', backup.file, '-C', into]);
  const listed = (await execa('tar', ['-tzf', backup.file])).stdout.split('\n').filter(Boolean).map((p) => p.replace(/\/$/, ''));
  // An entry flagged with `error` (its body broke after the header was written) is known bad
  // and must not be trusted; the caller asserts on those.
  const files = backup.meta.entries.filter((e) => e.type === 'file' && !e.error);
  const sums = (await execa('sha256sum', files.map((e) => e.path), { cwd: into })).stdout.split('\n');
  const byPath = new Map(sums.map((l) => [l.slice(66), l.slice(0, 64)]));
  for (const e of files) {
    expect(byPath.get(e.path), `sha256 of ${e.path}`).toBe(e.sha256);
  }
  // Every member of the tar is described by metadata (metadata.json itself aside).
  const described = new Set(backup.meta.entries.map((e) => e.path));
  expect(listed.filter((p) => p !== 'metadata.json' && !described.has(p))).toEqual([]);
  return into;
}

/** The component × host rows of the summary table printed on stdout. */
export function summaryRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/))
    .filter((cells) => cells.length >= 3 && /^(success|failed|skipped|partial)$/.test(cells[2]!));
}
