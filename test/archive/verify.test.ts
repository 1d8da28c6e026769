import { withMetadata } from '../faults/crafted-archive.js';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatFromName } from '../../engine/archive/reader.js';
import { verifyArchive } from '../../engine/archive/verify.js';
import { fileSink, tempDir } from './helpers.js';
import { readAndVerify, writeSample } from './read-and-verify.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await dir.cleanup();
});

readAndVerify(['tar.gz', 'zip']); // tar.zst needs the zstd program (a Debian package): real-tools.int.test.ts

describe('verify of a damaged tar.gz', () => {
  it('detects one flipped byte and names the entry', async () => {
    const archive = await writeSample(dir.path, 'tar.gz');
    const bytes = await readFile(archive);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff; // inside data.bin's gzip members
    await writeFile(archive, bytes);
    const report = await verifyArchive(createReadStream(archive), 'tar.gz');
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.path === 'a/data.bin')).toBe(true);
    expect(report.problems.map((p) => p.message).join('\n')).toContain('a/data.bin');
  });
});

describe('verify applies the rules restore refuses a backup by (entry-rules.ts)', () => {
  it('names a duplicate entry and a file stored through a symbolic link, though every digest matches metadata.json', async () => {
    // Raw tar (the writer refuses both entries): as an archive written before it checked, or crafted.
    const archive = join(dir.path, 'refused.tar.gz');
    const body = Buffer.from('same\n');
    const file = (path: string) => ({ path, type: 'File', body, mode: 0o644 });
    const entries = [
      file('app/h/files/etc/x.conf'),
      file('app/h/files/etc/x.conf'),
      { path: 'app/h/files/opt/current', type: 'SymbolicLink', linkpath: 'release-2' },
      file('app/h/files/opt/current/app.conf'),
    ];
    await writeFile(archive, withMetadata(entries, { schemaVersion: 1 }));

    const report = await verifyArchive(createReadStream(archive), 'tar.gz');
    expect(report.ok).toBe(false);
    expect(report.problems.filter((p) => p.kind === 'refused').map((p) => p.message)).toEqual([
      "duplicate entry 'app/h/files/etc/x.conf': restore refuses this backup",
      "'app/h/files/opt/current/app.conf' would be written through the symbolic link 'app/h/files/opt/current' (collect the link's target, not a path through the link): restore refuses this backup",
    ]);
  });

  it('are the rules the writer keeps: it leaves such entries out, so what it stores verifies', async () => {
    const archive = join(dir.path, 'kept.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    const body = Buffer.from('same\n');
    await writer.add({ path: 'app/h/files/etc/x.conf', size: body.length }, Readable.from([body]));
    await expect(writer.add({ path: 'app/h/files/etc/x.conf', size: body.length }, Readable.from([body]))).rejects.toThrow(
      "duplicate entry 'app/h/files/etc/x.conf': left out",
    );
    await writer.add({ path: 'app/h/files/opt/current', type: 'symlink', linkpath: 'release-2' });
    await expect(writer.add({ path: 'app/h/files/opt/current/app.conf', size: body.length }, Readable.from([body]))).rejects.toThrow(
      "would be written through the symbolic link 'app/h/files/opt/current'",
    );
    await writer.add({ path: 'app/h/files/opt/release-2/app.conf', size: body.length }, Readable.from([body]));
    await writer.finish((entries) => ({ entries }));

    const report = await verifyArchive(createReadStream(archive), 'tar.gz');
    expect(report.problems).toEqual([]);
    expect(report.entriesChecked).toBe(3);
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
