/**
 * Times a zip cannot hold. yazl writes a member's time as unsigned 32-bit seconds: a file from
 * before 1970 threw out of its stream after every entry was written (the process died with a
 * RangeError, leaving its locks and temp file behind), and one after 2038-01-19 was stored, and
 * restored, as 2038-01-19. zip now refuses such a file as it refuses other names it cannot hold,
 * naming the tar formats, which keep both times.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, collectedTree, localCluster, type LocalCluster } from './support.js';

let c: LocalCluster;
let tree: string;
const BEFORE_1970 = -34_560_000; // 1968-11-27
const AFTER_2038 = 4_102_444_800; // 2100-01-01

beforeEach(async () => {
  c = await localCluster();
  tree = await collectedTree(c);
});
afterEach(async () => c.cleanup());

async function fileFrom(name: string, seconds: number): Promise<void> {
  await writeFile(path.join(tree, name), `${name}\n`);
  const time = new Date(seconds * 1000); // a negative number of seconds would mean "now" to utimes
  await utimes(path.join(tree, name), time, time);
}

it.each([
  ['old', BEFORE_1970, '1968-11-27T00:00:00.000Z'],
  ['future', AFTER_2038, '2100-01-01T00:00:00.000Z'],
])(
  'zip refuses a file whose time it cannot hold (%s), naming the file; the run ends cleanly',
  async (name, seconds, iso) => {
    await fileFrom(name, seconds);
    const zip = await c.apply(['--format', 'zip']);
    expect(zip.exitCode, cliOutput(zip)).toBe(1);
    expect(cliOutput(zip)).toContain(`${name}: zip archives hold times from 1970 to 2038-01-19 only and this entry's is ${iso}; use tar.gz or tar.zst`);
    expect(cliOutput(zip)).not.toContain('RangeError');
    // The run released its locks: the next one takes none over.
    const tar = await c.apply(['--format', 'tar.gz']);
    expect(tar.exitCode, cliOutput(tar)).toBe(0);
    expect(cliOutput(tar)).not.toContain('stale lock');
  },
  120_000,
);

it('tar.gz keeps times before 1970 and after 2038 through restore', async () => {
  await fileFrom('old', BEFORE_1970);
  await fileFrom('future', AFTER_2038);
  const apply = await c.apply(['--format', 'tar.gz']);
  expect(apply.exitCode, cliOutput(apply)).toBe(0);
  await rm(tree, { recursive: true });
  const restore = await c.restore(await c.archive('.tar.gz'));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect((await stat(path.join(tree, 'old'))).mtimeMs / 1000).toBe(BEFORE_1970);
  expect((await stat(path.join(tree, 'future'))).mtimeMs / 1000).toBe(AFTER_2038);
}, 120_000);
