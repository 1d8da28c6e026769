/**
 * Collected sparse files (preallocated logs and indexes: ZooKeeper txn logs, Kafka .index)
 * reach the archive whole; they used to be sent as GNU sparse members and dropped silently.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { execa } from 'execa';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => ws.cleanup());

it('keeps a sparse file, with its full size and content', async () => {
  const data = path.join(ws.dir, 'data');
  await ws.write('data/head.txt', 'x\n');
  await execa('sh', ['-c', `printf 'start' > ${data}/log.1 && truncate -s 4M ${data}/log.1 && printf 'end' >> ${data}/log.1`]);
  await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nvars: { dir: ${data} }\nbackup:\n  collect:\n    - path: "{{vars.dir}}"\n`));
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'out')]);
  expect(r.exitCode, r.stderr).toBe(0);
  const [name] = (await readdir(path.join(ws.dir, 'out'))).filter((n) => n.endsWith('.tar.gz'));
  const archive = path.join(ws.dir, 'out', name!);
  const entry = `app/localhost/files${data}/log.1`;
  const content = Buffer.from((await execa('tar', ['xzOf', archive, entry], { encoding: 'buffer' })).stdout);
  expect(content.length).toBe(4 * 1024 * 1024 + 3);
  expect(content.subarray(0, 5).toString()).toBe('start');
  expect(content.subarray(-3).toString()).toBe('end');
});
