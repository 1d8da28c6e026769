/**
 * Collect paths that overlap (`/data` and `/data/sub` in two steps, a file listed inside a listed
 * directory of one step), through the BUILT CLI on the local host. The host's tar sends such a
 * file twice; the backup must hold it once. It was stored twice: apply and verify said OK, and
 * restore refused the whole backup (`duplicate entry …`) — a backup that could never be restored.
 * An incremental listed the unchanged ones twice in metadata.json.
 */
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  const run = await cluster.apply(cluster.recipes, [mode]);
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
