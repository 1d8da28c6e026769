/**
 * Limits that differed between backup and restore (issue 12 item 10): a metadata.json over
 * 64 MiB (many long file names) and a recipe over 1 MiB were written and verified, then
 * refused by restore. Now both sides share engine/archive/limits.ts: metadata.json is read up
 * to 256 MiB, and what the writer cannot keep within the limits fails the run up front.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { execa } from 'execa';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, localCluster, type LocalCluster } from './support.js';

let c: LocalCluster;
beforeEach(async () => {
  // 17,000 files and a 64 MiB metadata.json: apply and restore each took over 120 s (runCli's
  // default deadline) with the suite, a stress run and CPU burners on this 2-core machine.
  c = await localCluster(undefined, { cliTimeoutMs: 280_000 });
});
afterEach(async () => c.cleanup());

const collectAndRestore = (dir: string) => `hosts: { group: app }
backup:
  collect:
    - path: ${dir}
restore:
  apply:
    - files: ${dir}
`;

it('restores a backup whose metadata.json is larger than 64 MiB (17,000 files with ~4,000-byte paths)', async () => {
  // 15 directories of 250-byte names, then 17,000 empty files with 200-byte names: each path is
  // just under PATH_MAX, each metadata entry ~4.2 KB.
  const deep = path.join(c.data, ...Array.from({ length: 15 }, (_, i) => `${i}`.padEnd(250, 'd')));
  const files = 17_000;
  await execa('python3', [
    '-c',
    `import os,sys\nd=sys.argv[1]\nos.makedirs(d)\nfor i in range(${files}): open(os.path.join(d, str(i).rjust(200, 'f')), 'w').close()`,
    deep,
  ]);
  await c.recipe('app', collectAndRestore(c.data));
  const apply = await c.apply([], undefined);
  expect(apply.exitCode, cliOutput(apply)).toBe(0);
  const archive = await c.archive();
  expect((await stat(`${archive}.metadata.json`)).size).toBeGreaterThan(64 * 1024 * 1024);

  await rm(c.data, { recursive: true });
  const restore = await c.restore(archive, [], undefined);
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  const back = await readdir(deep);
  expect(back.length).toBe(files);
  expect(back).toContain('16999'.padStart(200, 'f'));
}, 600_000);

it('refuses a recipe larger than restore reads before running anything', async () => {
  await c.write('data/f.txt', 'x\n');
  const recipe = await c.recipe('app', `hosts: { group: app }\nbackup:\n  pre:\n    - run: touch ${c.data}/ran\n  collect:\n    - path: ${c.data}/f.txt\n`);
  // A recipe of 1.2 MiB: valid YAML, the bulk in a comment.
  await execa('sh', ['-c', `head -c 1200000 /dev/zero | tr '\\0' 'x' | sed 's/^/# /' >> ${recipe}; echo >> ${recipe}`]);
  const apply = await c.apply();
  expect(apply.exitCode, cliOutput(apply)).toBe(78);
  // The loader refuses it (engine/input-limits.ts): the same 1 MiB restore reads a carried recipe up to.
  expect(apply.stderr).toContain(
    `${recipe}: recipe file is ${(Buffer.byteLength(await readFile(recipe)) / 1048576).toFixed(1)} MiB; recipe files are limited to 1 MiB`,
  );
  expect(await readdir(c.target).catch(() => [])).toEqual([]);
  expect(await readdir(c.data)).toEqual(['f.txt']);
});
