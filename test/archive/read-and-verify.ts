/**
 * A sample archive per format, read back and verified: verify.test.ts runs tar.gz and zip in the
 * unit tier, real-tools.int.test.ts tar.zst (the zstd program is a Debian package).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openArchiveReader } from '../../engine/archive/reader.js';
import { verifyArchive } from '../../engine/archive/verify.js';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import type { ArchiveFormat } from '../../engine/archive/types.js';
import { fileSink, tempDirPerTest } from './helpers.js';

const small = Buffer.from('first\n');
const big = randomBytes(3_000_000);

/**
 * Writes a/first, a/data.bin (3 MB) and the link a/h/files/link (in a collected files tree, where
 * restore takes links) into `<dir>/out.<format>`; `metadataEntries` may alter what metadata.json lists.
 */
export async function writeSample(dir: string, format: ArchiveFormat, metadataEntries?: (e: unknown[]) => unknown[]): Promise<string> {
  const archive = join(dir, `out.${format}`);
  const writer = createArchiveWriter(format, fileSink(archive), { spoolDir: dir });
  await writer.add({ path: 'a/first', size: small.length }, Readable.from([small]));
  await writer.add({ path: 'a/data.bin', size: big.length }, Readable.from([big]));
  await writer.add({ path: 'a/h/files/link', type: 'symlink', linkpath: 'first' });
  await writer.finish((entries) => ({ entries: metadataEntries ? metadataEntries(entries) : entries }));
  return archive;
}

export function readAndVerify(formats: ArchiveFormat[]): void {
  describe.each(formats)('%s reader and verify', (format) => {
    const dir = tempDirPerTest();

    it('reads back every entry and verifies clean', async () => {
      const archive = await writeSample(dir.path, format);
      const seen: Record<string, Buffer | string> = {};
      for await (const { entry, body } of openArchiveReader(createReadStream(archive), format)) {
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c as Buffer);
        seen[entry.path] = entry.type === 'symlink' ? `-> ${entry.linkpath}` : Buffer.concat(chunks);
      }
      expect(Object.keys(seen)).toEqual(['a/first', 'a/data.bin', 'a/h/files/link', 'metadata.json']);
      expect((seen['a/data.bin'] as Buffer).equals(big)).toBe(true);
      expect(seen['a/h/files/link']).toBe('-> first');
      const report = await verifyArchive(createReadStream(archive), format);
      expect(report).toMatchObject({ ok: true, problems: [], entriesChecked: 3 });
    });

    it('names entries that are missing from the archive or from metadata.json', async () => {
      const archive = await writeSample(dir.path, format, (entries) => [
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
}
