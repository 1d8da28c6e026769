import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openArchiveReader, formatFromName } from '../../engine/archive/reader.js';
import { verifyArchive } from '../../engine/archive/verify.js';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import type { ArchiveFormat } from '../../engine/archive/types.js';
import { fileSink, tempDir } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await dir.cleanup();
});

const small = Buffer.from('first\n');
const big = randomBytes(3_000_000);

async function writeSample(format: ArchiveFormat, metadataEntries?: (e: unknown[]) => unknown[]) {
  const archive = join(dir.path, `out.${format}`);
  const writer = createArchiveWriter(format, fileSink(archive), { spoolDir: dir.path });
  await writer.add({ path: 'a/first', size: small.length }, Readable.from([small]));
  await writer.add({ path: 'a/data.bin', size: big.length }, Readable.from([big]));
  await writer.add({ path: 'a/link', type: 'symlink', linkpath: 'first' });
  await writer.finish((entries) => ({ entries: metadataEntries ? metadataEntries(entries) : entries }));
  return archive;
}

describe.each(['tar.gz', 'tar.zst', 'zip'] as const)('%s reader and verify', (format) => {
  it('reads back every entry and verifies clean', async () => {
    const archive = await writeSample(format);
    const seen: Record<string, Buffer | string> = {};
    for await (const { entry, body } of openArchiveReader(createReadStream(archive), format)) {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      seen[entry.path] = entry.type === 'symlink' ? `-> ${entry.linkpath}` : Buffer.concat(chunks);
    }
    expect(Object.keys(seen)).toEqual(['a/first', 'a/data.bin', 'a/link', 'metadata.json']);
    expect((seen['a/data.bin'] as Buffer).equals(big)).toBe(true);
    expect(seen['a/link']).toBe('-> first');
    const report = await verifyArchive(createReadStream(archive), format);
    expect(report).toMatchObject({ ok: true, problems: [], entriesChecked: 3 });
  });

  it('names entries that are missing from the archive or from metadata.json', async () => {
    const archive = await writeSample(format, (entries) => [
      ...entries.filter((e) => (e as { path: string }).path !== 'a/first'),
      { path: 'a/ghost', type: 'file', size: 1, sha256: '00', mode: 384, mtime: '' },
    ]);
    const report = await verifyArchive(createReadStream(archive), format);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.path])).toEqual([
      ['missing', 'a/ghost'],
      ['extra', 'a/first'],
    ]);
  });
});

describe('verify of a damaged tar.gz', () => {
  it('detects one flipped byte and names the entry', async () => {
    const archive = await writeSample('tar.gz');
    const bytes = await readFile(archive);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff; // inside data.bin's gzip members
    await writeFile(archive, bytes);
    const report = await verifyArchive(createReadStream(archive), 'tar.gz');
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.path === 'a/data.bin')).toBe(true);
    expect(report.problems.map((p) => p.message).join('\n')).toContain('a/data.bin');
  });
});

describe('formatFromName', () => {
  it('maps backup names to formats and rejects others', () => {
    expect(formatFromName('lsbackup-prod-20260101T000000Z_1.tar.gz')).toBe('tar.gz');
    expect(formatFromName('x.tar.zst')).toBe('tar.zst');
    expect(formatFromName('x.ZIP')).toBe('zip');
    expect(() => formatFromName('x.rar')).toThrow(/unknown archive format/);
  });
});
