/**
 * Collect paths that overlap (`/data` and `/data/sub` in two steps, a file listed inside a listed
 * directory of one step), through the BUILT CLI on the local host. The host's tar sends such a
 * file twice; the backup must hold it once. It was stored twice: apply and verify said OK, and
 * restore refused the whole backup (`duplicate entry …`) — a backup that could never be restored.
 * An incremental listed the unchanged ones twice in metadata.json.
 */
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import type { BackupMetadata } from '../../engine/archive/index.js';

const RECIPE = `hosts: { group: app }
vars: { data: /nonexistent }
backup:
  collect:
    - path: "{{vars.data}}/tree"
    - path: ["{{vars.data}}/tree/sub", "{{vars.data}}/tree/sub/b"]
restore:
  apply:
    - files: "{{vars.data}}/tree"
`;

// One file under three names, collected by two steps that share the middle name: the second
// step's tar sends 'b' as the file and 'c' as a hardlink to it, but 'b' is already stored (by
// the first step, as a hardlink to 'a').
const LINKED_RECIPE = `hosts: { group: app }
vars: { data: /nonexistent }
backup:
  collect:
    - path: ["{{vars.data}}/linked/a", "{{vars.data}}/linked/b"]
    - path: ["{{vars.data}}/linked/b", "{{vars.data}}/linked/c"]
restore:
  apply:
    - files: "{{vars.data}}/linked"
`;

let cluster: Cluster;
let tree: string;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  const data = cluster.dataDir('localhost');
  tree = path.join(data, 'tree');
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  await writeFile(path.join(tree, 'a'), 'a\n');
  await writeFile(path.join(tree, 'sub/b'), 'b\n');
  await link(path.join(tree, 'sub/b'), path.join(tree, 'sub/b-link'));
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);
  await cluster.writeRecipe('linked', LINKED_RECIPE);
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
});

const CONTENT = { a: 'a\n', 'sub/b': 'b\n', 'sub/b-link': 'b\n' };

async function contents(files: string[]): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await readFile(path.join(tree, f), 'utf8')] as const)));
}

function duplicates(metadata: BackupMetadata): string[] {
  const paths = metadata.entries.map((e) => e.path);
  return paths.filter((p, i) => paths.indexOf(p) !== i);
}

async function backup(mode: '--full' | '--incremental'): Promise<string> {
  const run = await cluster.apply(cluster.recipes, [mode, '--only', 'app']);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  expect(run.metadata?.kind).toBe(mode.slice(2));
  expect(duplicates(run.metadata!)).toEqual([]);
  const verify = await runCli(['verify', run.archive!], { env: cluster.env });
  expect(verify.exitCode, cliOutput(verify)).toBe(0);
  return run.archive!;
}

async function wipeAndRestore(archive: string): Promise<Record<string, string>> {
  await rm(tree, { recursive: true, force: true });
  const restored = await cluster.restore(archive);
  expect(restored.exitCode, cliOutput(restored)).toBe(0);
  return contents(Object.keys(CONTENT));
}

describe('overlapping collect paths', () => {
  it('a full backup and an incremental on it (unchanged files as references) hold each file once, and both restore', async () => {
    const full = await backup('--full');
    await writeFile(path.join(tree, 'a'), 'changed\n');
    // Restoring would give every file a new ctime: the incremental is made first, so it refers to the full.
    const incremental = await backup('--incremental');
    expect(await wipeAndRestore(full)).toEqual(CONTENT);
    expect(await wipeAndRestore(incremental)).toEqual({ ...CONTENT, a: 'changed\n' });
  });
});

describe('a hardlink whose target a former collect step stored as a hardlink', () => {
  // Apply, verify, wipe, restore: the three names must come back as one file with `content`.
  async function roundTrip(linked: string, archive: string, content: string): Promise<void> {
    const verify = await runCli(['verify', archive], { env: cluster.env });
    expect(verify.exitCode, cliOutput(verify)).toBe(0);
    await rm(linked, { recursive: true, force: true });
    const restored = await cluster.restore(archive, ['--only', 'linked']);
    expect(restored.exitCode, cliOutput(restored)).toBe(0);
    const inodes = await Promise.all(['a', 'b', 'c'].map(async (name) => (await stat(path.join(linked, name))).ino));
    expect(new Set(inodes).size).toBe(1);
    expect(await readFile(path.join(linked, 'c'), 'utf8')).toBe(content);
  }

  async function backup(mode: '--full' | '--incremental'): Promise<string> {
    const run = await cluster.apply(cluster.recipes, [mode, '--only', 'linked']);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    expect(run.metadata?.kind).toBe(mode.slice(2));
    return run.archive!;
  }

  it('is stored as a link to the file, so full and incremental backups that verify calls OK restore all three names as one file', async () => {
    const linked = path.join(cluster.dataDir('localhost'), 'linked');
    await mkdir(linked);
    await writeFile(path.join(linked, 'a'), 'one file\n');
    await link(path.join(linked, 'a'), path.join(linked, 'b'));
    await link(path.join(linked, 'a'), path.join(linked, 'c'));
    const full = await backup('--full');
    // Made before any restore gives the files a new ctime: its files are references to the full's.
    const unchanged = await backup('--incremental');
    await roundTrip(linked, full, 'one file\n');
    await roundTrip(linked, unchanged, 'one file\n');
    await writeFile(path.join(linked, 'a'), 'changed\n');
    await roundTrip(linked, await backup('--incremental'), 'changed\n');
  });
});
