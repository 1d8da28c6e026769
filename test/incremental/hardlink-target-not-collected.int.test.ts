/**
 * An unchanged hardlink whose target an incremental no longer collects (the collect paths
 * narrowed since the base), through the BUILT CLI on the local host. The base holds the bytes
 * under the target's name and the link as a link; the incremental refers to them. It referred to
 * the link's own name, which the base holds no bytes under: apply said OK, and verify and restore
 * (staged and --stream) refused the backup.
 */
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const RECIPE = `hosts: { group: app }
vars: { data: /nonexistent, first: one }
backup:
  collect: [{ path: ["{{vars.data}}/tree/{{vars.first}}", "{{vars.data}}/tree/two"], optional: true }]
restore:
  apply:
    - files: "{{vars.data}}/tree"
`;

let cluster: Cluster;
let data: string;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  data = cluster.dataDir('localhost');
  await mkdir(path.join(data, 'tree'), { recursive: true });
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
});

describe('an unchanged hardlink whose target is no longer collected', () => {
  it('refers to the bytes under the name the base holds them, so the incremental verifies and restores', async () => {
    const tree = path.join(data, 'tree');
    await writeFile(path.join(tree, 'one'), 'the bytes of one inode\n');
    await link(path.join(tree, 'one'), path.join(tree, 'two'));
    // tar meets 'one' first: the full holds the bytes under 'one', and 'two' as a link to it.
    const full = await cluster.apply(cluster.recipes, ['--full']);
    expect(full.exitCode, cliOutput(full)).toBe(0);
    expect(full.metadata!.entries.find((e) => e.path.endsWith('/tree/two'))).toMatchObject({ type: 'hardlink' });

    await cluster.hostVars('localhost', { data, first: 'not-any-more' });
    // The second refers to the full's bytes just as the first does (references never chain).
    const incrementals = [];
    for (let i = 0; i < 2; i++) {
      const run = await cluster.apply(cluster.recipes, ['--incremental']);
      expect(run.exitCode, cliOutput(run)).toBe(0);
      const two = run.metadata!.entries.find((e) => e.path.endsWith('/tree/two'));
      expect(two).toMatchObject({ type: 'file', ref: full.metadata!.backupId, linkpath: expect.stringMatching(/\/tree\/one$/) });
      incrementals.push(run.archive!);
    }

    for (const archive of incrementals) {
      const verify = await runCli(['verify', path.basename(archive), '-t', path.dirname(archive)], { env: cluster.env });
      expect(verify.exitCode, cliOutput(verify)).toBe(0);
      for (const extra of [[], ['--stream']]) {
        await rm(tree, { recursive: true, force: true });
        const restored = await cluster.restore(archive, extra);
        expect(restored.exitCode, cliOutput(restored)).toBe(0);
        expect(await readFile(path.join(tree, 'two'), 'utf8')).toBe('the bytes of one inode\n');
      }
    }
  }, 300_000);
});
