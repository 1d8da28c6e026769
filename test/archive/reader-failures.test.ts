/**
 * A tar.gz whose reading fails part-way (a download that breaks, a truncated archive) gives a
 * reader slower than the decompressor every byte that arrived before the failure, then the
 * failure's reason. gunzip used to be destroyed on the failure, dropping output the reader had not
 * taken: the damage was named in the entry before it (engine/archive/decompressor.ts). The tar.zst
 * half needs zstd: real-tools.int.test.ts.
 */
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { openArchiveReader } from '../../engine/archive/reader.js';
import { breakingSource, tarCutInSecondEntry, tempDirPerTest } from './helpers.js';

/** Each gunzip decompressor the reader makes, observed (not replaced): the test waits for its failure. */
const gunzips = vi.hoisted(() => ({ failed: [] as Promise<unknown>[] }));
vi.mock('../../engine/archive/decompressor.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../engine/archive/decompressor.js')>();
  return {
    ...original,
    createGunzipDecompressor: () => {
      const gunzip = original.createGunzipDecompressor();
      gunzips.failed.push(
        gunzip.exited.then(
          () => undefined,
          () => undefined,
        ),
      );
      return gunzip;
    },
  };
});

async function readSlowly(items: AsyncIterable<{ entry: { path: string }; body: Readable }>, before: () => Promise<unknown>, read: string[]) {
  for await (const { entry, body } of items) {
    await before();
    let bytes = 0;
    for await (const chunk of body) bytes += (chunk as Buffer).length;
    read.push(`${entry.path} ${bytes}`);
  }
}

describe('a tar.gz read part-way', () => {
  const dir = tempDirPerTest();

  it('whose download breaks: every entry that arrived is read whole, then the download’s reason', async () => {
    const compressed = gzipSync(await tarCutInSecondEntry(dir.path, 1024 * 1024));
    const source = breakingSource(compressed, 'connection reset by peer');
    const items = openArchiveReader(source, 'tar.gz');
    let delivered = 0;
    source.on('data', (chunk: Buffer) => (delivered += chunk.length));
    const read: string[] = [];
    // The reader takes each body only once the download broke.
    const reading = readSlowly(items, () => (source.destroyed ? Promise.resolve() : once(source, 'close')), read);
    await expect(reading).rejects.toThrow('connection reset by peer');
    expect(delivered).toBe(compressed.length);
    expect(read).toEqual([`a/data ${1024 * 1024}`]);
  });

  it('that is truncated: every entry before the cut is read whole, then gunzip’s reason', async () => {
    const whole = gzipSync(await tarCutInSecondEntry(dir.path, 40 * 1024));
    const truncated = whole.subarray(0, whole.length - 8); // its trailer (CRC and size) cut off
    gunzips.failed.length = 0;
    const items = openArchiveReader(Readable.from([truncated]), 'tar.gz');
    const read: string[] = [];
    // The reader takes each body only once gunzip failed (its output fits the pipes before that).
    const reading = readSlowly(items, () => gunzips.failed[0]!, read);
    await expect(reading).rejects.toThrow('unexpected end of file');
    expect(read).toEqual([`a/data ${40 * 1024}`]);
  });
});
