/**
 * How restore gives a file its holes back: staging writes runs of zero blocks as holes and
 * records where the data is (engine/restore/sparse-file.ts), and the stream to the host's tar
 * sends such a file as a PAX 1.0 sparse member (engine/archive/tar/sparse.ts) that the real
 * GNU tar (and bsdtar, Debian's libarchive-tools) extracts with the same bytes and holes. Bodies arrive in odd-sized chunks, as from
 * the archive reader.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEntry, createTarContainer } from '../../engine/archive/containers.js';
import { normaliseEntry } from '../../engine/archive/entry.js';
import { nameFromBytes } from '../../engine/archive/name-bytes.js';
import { sparseMemberBody, type DataRegion } from '../../engine/archive/tar/sparse.js';
import { HOLE_BLOCK, SparseFileWriter } from '../../engine/restore/sparse-file.js';
import { tempDir } from '../archive/helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
let n = 0;
beforeAll(async () => {
  dir = await tempDir('lsb-sparse-file-');
});
afterAll(async () => dir?.cleanup());

const MIB = 1024 * 1024;

/** `size` bytes, zero except `islands` (offset, length) filled with a non-zero pattern. */
function content(size: number, islands: [number, number][]): Buffer {
  const b = Buffer.alloc(size);
  for (const [at, length] of islands) for (let i = 0; i < length; i++) b[at + i] = 1 + ((at + i) % 251);
  return b;
}

/** `data` in chunks of the given sizes (cycled), like a body from the archive reader. */
function chunked(data: Buffer, sizes: number[]): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return Readable.from(chunks);
}

async function stage(data: Buffer, sizes: number[], maxRegions?: number): Promise<{ file: string; regions: DataRegion[] | undefined }> {
  const file = join(dir.path, `staged-${++n}`);
  const writer = new SparseFileWriter(file, 0o600, data.length, maxRegions);
  await pipeline(chunked(data, sizes), writer);
  return { file, regions: writer.dataRegions() };
}

const allocated = (file: string | Buffer) => statSync(file).blocks * 512;

/** The staged file sent to a real tar (GNU tar, or bsdtar) as one sparse member named `name`; returns the extracted path. */
async function extractWithTar(staged: string, regions: DataRegion[], realSize: number, name: Buffer, tar = 'tar'): Promise<Buffer> {
  const out = join(dir.path, `extract-${++n}`);
  execFileSync('mkdir', [out]);
  const tarFile = join(dir.path, `member-${n}.tar`);
  const stream = new PassThrough();
  const container = createTarContainer(stream);
  const bytes: Buffer[] = [];
  stream.on('data', (c: Buffer) => bytes.push(Buffer.from(c)));
  const member = sparseMemberBody(staged, regions, realSize);
  const path = nameFromBytes(name, 0, name.length);
  await appendEntry(
    container,
    { ...normaliseEntry({ path, mode: 0o640, mtime: new Date('2024-01-02T03:04:05Z') }), size: member.size, sparse: { realSize } },
    member.body,
  );
  container.end();
  await new Promise((resolve) => stream.on('end', resolve));
  writeFileSync(tarFile, Buffer.concat(bytes));
  execFileSync(tar, ['--extract', '--file', tarFile, '--directory', out]);
  return Buffer.concat([Buffer.from(out + '/'), name]);
}

describe('staging writes zero blocks as holes', () => {
  const size = 3 * MIB + 1234; // not a whole number of blocks
  const cases: [string, [number, number][]][] = [
    [
      'islands at unaligned offsets, with a hole at the end',
      [
        [5000, 10],
        [MIB + 4095, 2],
        [2 * MIB, 9000],
      ],
    ],
    [
      'data in the last, partial block',
      [
        [100, 1],
        [size - 3, 3],
      ],
    ],
    ['no data at all', []],
  ];
  it.each(cases)('%s: same bytes, few blocks, and GNU tar and bsdtar extract the sparse member alike', async (_label, islands) => {
    const data = content(size, islands);
    for (const sizes of [[997, 13, 65536], [HOLE_BLOCK], [size]]) {
      const { file, regions } = await stage(data, sizes);
      expect(readFileSync(file).equals(data)).toBe(true);
      expect(regions).toBeDefined();
      expect(allocated(file)).toBeLessThan(64 * 1024);
      // Every region starts at a block boundary and holds data; together they cover every non-zero byte.
      for (const r of regions!) expect(r.offset % HOLE_BLOCK).toBe(0);
      const covered = Buffer.alloc(size);
      for (const r of regions!) data.copy(covered, r.offset, r.offset, r.offset + r.length);
      expect(covered.equals(data)).toBe(true);

      for (const tar of ['tar', 'bsdtar']) {
        const extracted = await extractWithTar(file, regions!, size, Buffer.from('dir/sparse.bin'), tar);
        expect(readFileSync(extracted).equals(data), tar).toBe(true);
        expect(allocated(extracted), tar).toBeLessThan(64 * 1024);
        expect(statSync(extracted).mode & 0o7777, tar).toBe(0o640);
      }
    }
  });

  it('a file without a zero block is staged as it is, with no map', async () => {
    const data = content(MIB + 17, [[0, MIB + 17]]);
    const { file, regions } = await stage(data, [997, 65536]);
    expect(readFileSync(file).equals(data)).toBe(true);
    expect(regions).toBeUndefined();
  });

  it('past the region limit the rest is stored dense: the map stays bounded, the bytes stay right', async () => {
    // Data in every other block: one region per data block until the limit.
    const islands: [number, number][] = [];
    for (let at = 0; at < MIB; at += 2 * HOLE_BLOCK) islands.push([at, 1]);
    const data = content(MIB, islands);
    const { file, regions } = await stage(data, [997], 8);
    expect(readFileSync(file).equals(data)).toBe(true);
    expect(regions!.length).toBeLessThanOrEqual(9);
    const last = regions!.at(-1)!;
    expect(last.offset + last.length).toBe(MIB);
    expect(last.length).toBeGreaterThan(MIB / 2);
    const extracted = await extractWithTar(file, regions!, MIB, Buffer.from('dense-tail'));
    expect(readFileSync(extracted).equals(data)).toBe(true);
  });

  it.each(['tar', 'bsdtar'])('%s extracts a sparse member under a long name that is not UTF-8', async (tar) => {
    const data = content(2 * MIB, [[MIB, 100]]);
    const { file, regions } = await stage(data, [65536]);
    const name = Buffer.concat([Buffer.from(`${'d'.repeat(120)}/${'e'.repeat(120)}/`), Buffer.from([0x78, 0xff]), Buffer.from('.log')]);
    const extracted = await extractWithTar(file, regions!, data.length, name, tar);
    expect(readFileSync(extracted).equals(data)).toBe(true);
    expect(allocated(extracted)).toBeLessThan(64 * 1024);
  });
});
