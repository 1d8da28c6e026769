/**
 * A relative symbolic link whose '..' climb above '/' is valid on a host (the kernel stops '..'
 * at '/'): `../../../../../../../../../../etc/hostname` in any directory names /etc/hostname.
 * Through the BUILT CLI on the local host: such a link, beside an absolute one and an ordinary
 * relative one, is backed up (full and incremental; the collect step used to fail with "escapes
 * its directory" and the host's component backup was lost), `verify` passes, and restore, staged
 * and `--stream`, gives every link back with its target as it was.
 */
import { mkdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const RECIPE = `hosts: { group: app, run: all }
vars: { data: /nonexistent }
backup:
  collect: [{ path: "{{vars.data}}/tree" }]
restore:
  apply:
    - files: "{{vars.data}}/tree"
`;

/** Far more '..' than any workspace is deep. */
const CLIMBING = `${'../'.repeat(40)}etc/hostname`;
const LINKS: Record<string, string> = { climbing: CLIMBING, absolute: '/etc/hostname', sibling: 'file' };

let cluster: Cluster;
let tree: string;
const archives: { full?: string; incremental?: string } = {};

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  const data = cluster.dataDir('localhost');
  tree = path.join(data, 'tree');
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);
  await makeTree();
  const full = await cluster.apply(cluster.recipes, ['--full']);
  expect(full.exitCode, cliOutput(full)).toBe(0);
  await writeFile(path.join(tree, 'file'), 'changed\n');
  const incremental = await cluster.apply(cluster.recipes, ['--incremental']);
  expect(incremental.exitCode, cliOutput(incremental)).toBe(0);
  archives.full = full.archive;
  archives.incremental = incremental.archive;
}, 300_000);

afterAll(async () => {
  await cluster?.cleanup();
});

async function makeTree(): Promise<void> {
  await rm(tree, { recursive: true, force: true });
  await mkdir(tree, { recursive: true });
  await writeFile(path.join(tree, 'file'), 'content\n');
  for (const [name, target] of Object.entries(LINKS)) await symlink(target, path.join(tree, name));
}

async function links(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(LINKS)) out[name] = await readlink(path.join(tree, name));
  return out;
}

describe('a relative link climbing above / (valid on the host)', () => {
  it('is stored as it is, and verify passes', async () => {
    for (const archive of [archives.full!, archives.incremental!]) {
      const r = await runCli(['verify', archive]);
      expect(r.exitCode, cliOutput(r)).toBe(0);
    }
  });

  it.each([
    ['the full', 'full', []],
    ['the incremental', 'incremental', []],
    ['the incremental, --stream', 'incremental', ['--stream']],
  ] as const)('restoring %s gives every link back as it was', async (_label, which, extra) => {
    await rm(tree, { recursive: true, force: true });
    const r = await cluster.restore(archives[which]!, [...extra]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await links()).toEqual(LINKS);
  });
});
