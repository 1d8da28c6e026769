/**
 * A collect path rendered with a doubled '/' — `{{vars.base}}/tree` with `base` ending in '/',
 * as inventories often write directories — names the same tree: tar sends its members as
 * `base//tree/…`, and the backup (full and incremental) holds them as `base/tree/…`, hardlinks
 * included; the `files:` step written the same way restores them. Was: the collect failed with
 * "entry path must be relative … without empty parts".
 */
import { link, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

let cluster: Cluster;
let tree: string;
beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  const data = cluster.dataDir('localhost');
  tree = path.join(data, 'tree');
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  await writeFile(path.join(tree, 'a.txt'), 'a\n');
  await writeFile(path.join(tree, 'sub/b.txt'), 'b\n');
  await link(path.join(tree, 'sub/b.txt'), path.join(tree, 'b-link.txt'));
  await cluster.hostVars('localhost', { base: `${data}/` });
  await cluster.writeRecipe(
    'app',
    'hosts: { group: app }\nvars: { base: /nonexistent/ }\nbackup:\n  collect:\n    - path: "{{vars.base}}/tree"\nrestore:\n  apply:\n    - files: "{{vars.base}}/tree"\n',
  );
}, 120_000);
afterAll(async () => cluster?.cleanup());

it('a collect path with a doubled slash backs up (full and incremental) and restores the tree', async () => {
  const full = await cluster.apply(cluster.recipes, ['--full']);
  expect(full.exitCode, cliOutput(full)).toBe(0);
  const prefix = `app/localhost/files/${tree.replace(/^\//, '')}`;
  expect(full.metadata!.entries.map((e) => e.path)).toEqual(expect.arrayContaining([`${prefix}/a.txt`, `${prefix}/sub/b.txt`]));
  expect(full.metadata!.entries.every((e) => !e.path.includes('//'))).toBe(true);

  await writeFile(path.join(tree, 'c.txt'), 'c\n');
  const incremental = await cluster.apply(cluster.recipes, ['--incremental']);
  expect(incremental.exitCode, cliOutput(incremental)).toBe(0);
  expect(incremental.metadata!.kind).toBe('incremental');

  await rm(tree, { recursive: true });
  const restore = await cluster.restore(incremental.archive!);
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect((await readdir(tree)).sort()).toEqual(['a.txt', 'b-link.txt', 'c.txt', 'sub']);
  expect(await readFile(path.join(tree, 'b-link.txt'), 'utf8')).toBe('b\n');
  expect(await readFile(path.join(tree, 'sub/b.txt'), 'utf8')).toBe('b\n');
}, 300_000);
