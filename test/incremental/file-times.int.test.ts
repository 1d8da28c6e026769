/**
 * File times an incremental must not trust (docs/incremental.md, "Chain rules"), through the
 * built CLI on the local host: files whose mtime is far in the future or the past (`touch -d`),
 * and files rewritten in place with the same size whose mtime was then put back. Signatures are
 * compared for equality, never ordered, and hold the ctime: every one of them is sent again by
 * the next incremental, and restore gives back the new bytes with the times they have.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, collectedTree, localCluster, type LocalCluster } from '../archive-integrity/support.js';

let c: LocalCluster;
let tree: string;
beforeEach(async () => {
  c = await localCluster();
  tree = await collectedTree(c);
});
afterEach(async () => c.cleanup());

const FUTURE = new Date('2091-03-04T05:06:07Z');
const PAST = new Date('1990-01-02T03:04:05Z');
const files = { future: FUTURE, past: PAST, now: undefined } as const;

const mtimeOf = async (file: string) => (await execa('find', [file, '-printf', '%T@'])).stdout;

/** Rewrites `name` in place with `text` (same size), then puts its mtime back to the nanosecond (`touch -r`). */
async function rewriteKeepingMtime(name: string, text: string): Promise<void> {
  const file = path.join(tree, name);
  const times = path.join(c.dir, `${name}.times`);
  const before = await mtimeOf(file);
  await execa('touch', ['-r', file, times]);
  await writeFile(file, text);
  await execa('touch', ['-r', times, file]);
  expect(await mtimeOf(file)).toBe(before);
}

it('files with mtimes in the future and the past, rewritten in place with their mtime put back: the next incremental sends them again, and restore gives the new bytes', async () => {
  for (const [name, time] of Object.entries(files)) {
    await writeFile(path.join(tree, name), 'AAAA\n');
    if (time) await utimes(path.join(tree, name), time, time);
  }
  await writeFile(path.join(tree, 'steady'), 'steady\n');
  const full = await c.backup(['--full']);
  const unchanged = await c.backup(['--incremental']);
  const entry = (m: typeof full.metadata, name: string) => m.entries.find((e) => e.path === `app/localhost/files${tree}/${name}`)!;
  for (const name of [...Object.keys(files), 'steady']) expect(entry(unchanged.metadata, name).ref, `${name}: unchanged`).toBe(full.metadata.backupId);

  for (const name of Object.keys(files)) await rewriteKeepingMtime(name, 'BBBB\n');
  const next = await c.backup(['--incremental']);
  for (const name of Object.keys(files)) expect(entry(next.metadata, name).ref, `${name}: rewritten, mtime put back`).toBeUndefined();
  expect(entry(next.metadata, 'steady').ref).toBe(full.metadata.backupId);

  // Only the time moved (touch -d, to the future and to the past): sent again with its new time.
  await utimes(path.join(tree, 'steady'), PAST, PAST);
  await utimes(path.join(tree, 'now'), FUTURE, FUTURE);
  const touched = await c.backup(['--incremental']);
  expect(entry(touched.metadata, 'steady').ref).toBeUndefined();
  expect(entry(touched.metadata, 'now').ref).toBeUndefined();

  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, touched.name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  for (const name of Object.keys(files)) expect(await readFile(path.join(tree, name), 'utf8'), name).toBe('BBBB\n');
  expect(await readFile(path.join(tree, 'steady'), 'utf8')).toBe('steady\n');
  const mtime = async (name: string) => (await stat(path.join(tree, name))).mtime.toISOString();
  expect([await mtime('future'), await mtime('past'), await mtime('now'), await mtime('steady')]).toEqual(
    [FUTURE, PAST, FUTURE, PAST].map((t) => t.toISOString()),
  );
}, 300_000);
