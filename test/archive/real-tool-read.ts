/**
 * Archives made by the writer, extracted and listed by the real tools (GNU tar; `unzip` and `zstd`
 * for zip and tar.zst, which are Debian packages): writer.test.ts runs tar.gz in the unit tier,
 * real-tools.int.test.ts the others.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import type { ArchiveFormat } from '../../engine/archive/types.js';
import { fileSink, run, tempDirPerTest, tricklingBody } from './helpers.js';

const mtime = new Date('2024-05-06T07:08:10Z'); // even seconds: zip keeps 2-second DOS times
const text = Buffer.from('hello, archive\n');
const big = randomBytes(2_500_000); // spans several 1 MiB gzip members
const dump = Buffer.from(Array.from({ length: 300_000 }, (_, i) => `INSERT INTO t VALUES (${i}, '${(i * 7919) % 10007}');\n`).join('')); // ~11 MB
const longPath = `postgresql/db-1/${'deep/'.repeat(30)}naïve-名前.conf`; // needs a pax header

const extractors: Record<ArchiveFormat, (archive: string, into: string) => void> = {
  'tar.gz': (a, into) => run('tar', ['xzf', a, '-C', into]),
  'tar.zst': (a, into) => run('tar', ['--zstd', '-xf', a, '-C', into]),
  zip: (a, into) => run('unzip', ['-q', a, '-d', into]),
};
const lister: Record<ArchiveFormat, (archive: string) => string[]> = {
  'tar.gz': (a) => run('tar', ['tzf', a]).trim().split('\n'),
  'tar.zst': (a) => run('tar', ['--zstd', '-tf', a]).trim().split('\n'),
  zip: (a) => run('unzip', ['-Z1', a]).trim().split('\n'),
};

/** What the archive writer produces, extracted and listed by the real tar/unzip, for each of `formats`. */
export function readByRealTools(formats: ArchiveFormat[]): void {
  describe.each(formats)('%s archives read by the real tool', (format) => {
    const dir = tempDirPerTest();

    it('keep bytes, modes, mtimes, symlinks, hardlinks, command output and metadata.json last', async () => {
      const archive = join(dir.path, `out.${format}`);
      const spoolDir = join(dir.path, 'spool');
      await mkdir(spoolDir);
      const writer = createArchiveWriter(format, fileSink(archive), { spoolDir });
      const seq = spawn('seq', ['1', '100000']); // unknown length, small: held in memory
      await Promise.all([
        writer.add({ path: 'haproxy/lb-1/files/etc/haproxy/haproxy.cfg', size: text.length, mode: 0o640, mtime }, Readable.from([text])),
        writer.add({ path: 'etcd/m-1/snapshot.db', size: big.length, mode: 0o600, mtime }, tricklingBody(big, 65536)),
        writer.add({ path: 'postgresql/db-1/numbers.txt', mtime, mode: 0o644 }, seq.stdout),
        // Unknown length, larger than what is held in memory: a spool file.
        writer.add({ path: 'postgresql/db-1/dump.sql', mtime, mode: 0o600 }, tricklingBody(dump, 32768)),
        writer.add({ path: longPath, size: text.length, mode: 0o600, mtime }, Readable.from([text])),
        writer.add({ path: 'haproxy/lb-1/files/etc/haproxy/conf.d', type: 'directory', mode: 0o750, mtime }),
        writer.add({ path: 'haproxy/lb-1/files/etc/haproxy/current.cfg', type: 'symlink', linkpath: 'haproxy.cfg', mtime }),
      ]);
      if (format !== 'zip') {
        await writer.add({ path: 'haproxy/lb-1/files/etc/haproxy/same.cfg', type: 'hardlink', linkpath: 'haproxy/lb-1/files/etc/haproxy/haproxy.cfg', mtime });
      }
      const result = await writer.finish((entries) => ({ entries }));

      const stored = await readFile(archive);
      expect(result.bytes).toBe(stored.length);
      expect(result.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
      expect(await readdir(spoolDir)).toEqual([]); // spool files are gone

      const out = join(dir.path, 'x');
      await mkdir(out);
      extractors[format](archive, out);
      const at = (p: string) => join(out, p);
      expect(await readFile(at('haproxy/lb-1/files/etc/haproxy/haproxy.cfg'))).toEqual(text);
      expect((await readFile(at('etcd/m-1/snapshot.db'))).equals(big)).toBe(true);
      expect(await readFile(at('postgresql/db-1/numbers.txt'), 'utf8')).toBe(run('seq', ['1', '100000']));
      expect((await readFile(at('postgresql/db-1/dump.sql'))).equals(dump)).toBe(true);
      expect(await readFile(at(longPath))).toEqual(text);
      expect((await stat(at('haproxy/lb-1/files/etc/haproxy/haproxy.cfg'))).mode & 0o777).toBe(0o640);
      expect((await stat(at('postgresql/db-1/numbers.txt'))).mode & 0o777).toBe(0o644);
      expect((await stat(at('haproxy/lb-1/files/etc/haproxy/conf.d'))).isDirectory()).toBe(true);
      expect((await stat(at('haproxy/lb-1/files/etc/haproxy/haproxy.cfg'))).mtime.getTime()).toBe(mtime.getTime());
      expect((await lstat(at('haproxy/lb-1/files/etc/haproxy/current.cfg'))).isSymbolicLink()).toBe(true);
      expect(await readlink(at('haproxy/lb-1/files/etc/haproxy/current.cfg'))).toBe('haproxy.cfg');
      if (format !== 'zip') {
        expect((await stat(at('haproxy/lb-1/files/etc/haproxy/conf.d'))).mode & 0o777).toBe(0o750);
        expect((await stat(at('haproxy/lb-1/files/etc/haproxy/same.cfg'))).ino).toBe((await stat(at('haproxy/lb-1/files/etc/haproxy/haproxy.cfg'))).ino);
      }

      const names = lister[format](archive);
      expect(names.at(-1)).toBe('metadata.json');
      const metadata = JSON.parse(await readFile(at('metadata.json'), 'utf8'));
      expect(metadata.entries).toEqual(result.entries);
      const numbers = result.entries.find((e) => e.path === 'postgresql/db-1/numbers.txt')!;
      expect(numbers.sha256).toBe(
        createHash('sha256')
          .update(run('seq', ['1', '100000']))
          .digest('hex'),
      );
      expect(result.entries.find((e) => e.path === 'postgresql/db-1/dump.sql')!.sha256).toBe(createHash('sha256').update(dump).digest('hex'));
    });
  });
}
