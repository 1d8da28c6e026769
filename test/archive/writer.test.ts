import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import type { ArchiveFormat } from '../../engine/archive/types.js';
import { fileSink, gzipMemberCount, run, tempDir, tricklingBody } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await dir.cleanup();
});

const mtime = new Date('2024-05-06T07:08:10Z'); // even seconds: zip keeps 2-second DOS times
const text = Buffer.from('hello, archive\n');
const big = randomBytes(2_500_000); // spans several 1 MiB gzip members
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

describe.each(['tar.gz', 'tar.zst', 'zip'] as const)('%s archives read by the real tool', (format) => {
  it('keep bytes, modes, mtimes, symlinks, hardlinks, command output and metadata.json last', async () => {
    const archive = join(dir.path, `out.${format}`);
    const spoolDir = join(dir.path, 'spool');
    await mkdir(spoolDir);
    const writer = createArchiveWriter(format, fileSink(archive), { spoolDir });
    const seq = spawn('seq', ['1', '100000']); // unknown length: spooled
    await Promise.all([
      writer.add({ path: 'haproxy/lb-1/haproxy.cfg', size: text.length, mode: 0o640, mtime }, Readable.from([text])),
      writer.add({ path: 'etcd/m-1/snapshot.db', size: big.length, mode: 0o600, mtime }, tricklingBody(big, 65536)),
      writer.add({ path: 'postgresql/db-1/numbers.txt', mtime, mode: 0o644 }, seq.stdout),
      writer.add({ path: longPath, size: text.length, mode: 0o600, mtime }, Readable.from([text])),
      writer.add({ path: 'haproxy/lb-1/conf.d', type: 'directory', mode: 0o750, mtime }),
      writer.add({ path: 'haproxy/lb-1/current.cfg', type: 'symlink', linkpath: 'haproxy.cfg', mtime }),
    ]);
    if (format !== 'zip') {
      await writer.add({ path: 'haproxy/lb-1/same.cfg', type: 'hardlink', linkpath: 'haproxy/lb-1/haproxy.cfg', mtime });
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
    expect(await readFile(at('haproxy/lb-1/haproxy.cfg'))).toEqual(text);
    expect((await readFile(at('etcd/m-1/snapshot.db'))).equals(big)).toBe(true);
    expect(await readFile(at('postgresql/db-1/numbers.txt'), 'utf8')).toBe(run('seq', ['1', '100000']));
    expect(await readFile(at(longPath))).toEqual(text);
    expect((await stat(at('haproxy/lb-1/haproxy.cfg'))).mode & 0o777).toBe(0o640);
    expect((await stat(at('postgresql/db-1/numbers.txt'))).mode & 0o777).toBe(0o644);
    expect((await stat(at('haproxy/lb-1/conf.d'))).isDirectory()).toBe(true);
    expect((await stat(at('haproxy/lb-1/haproxy.cfg'))).mtime.getTime()).toBe(mtime.getTime());
    expect((await lstat(at('haproxy/lb-1/current.cfg'))).isSymbolicLink()).toBe(true);
    expect(await readlink(at('haproxy/lb-1/current.cfg'))).toBe('haproxy.cfg');
    if (format !== 'zip') {
      expect((await stat(at('haproxy/lb-1/conf.d'))).mode & 0o777).toBe(0o750);
      expect((await stat(at('haproxy/lb-1/same.cfg'))).ino).toBe((await stat(at('haproxy/lb-1/haproxy.cfg'))).ino);
    }

    const names = lister[format](archive);
    expect(names.at(-1)).toBe('metadata.json');
    const metadata = JSON.parse(await readFile(at('metadata.json'), 'utf8'));
    expect(metadata.entries).toEqual(result.entries);
    const numbers = result.entries.find((e) => e.path === 'postgresql/db-1/numbers.txt')!;
    expect(numbers.sha256).toBe(createHash('sha256').update(run('seq', ['1', '100000'])).digest('hex'));
  });
});

describe('tar.gz', () => {
  it('is a multi-member gzip stream that gunzip -t accepts', async () => {
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    await writer.add({ path: 'a/big', size: big.length }, Readable.from([big]));
    await writer.finish((entries) => ({ entries }));
    expect(gzipMemberCount(archive)).toBeGreaterThanOrEqual(3);
    expect(() => run('gunzip', ['-t', archive])).not.toThrow();
  });
});

describe('concurrent adds', () => {
  it('never interleave the bytes of two entries', async () => {
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    const bodies = Array.from({ length: 12 }, (_, i) => Buffer.alloc(50_000 + i * 1000, 65 + i));
    await Promise.all(
      bodies.map((body, i) =>
        writer.add({ path: `c/h${i}/data`, size: i % 2 ? body.length : undefined }, tricklingBody(body)),
      ),
    );
    await writer.finish((entries) => ({ entries }));
    const out = join(dir.path, 'x');
    await mkdir(out);
    run('tar', ['xzf', archive, '-C', out]);
    for (const [i, body] of bodies.entries()) {
      expect((await readFile(join(out, `c/h${i}/data`))).equals(body)).toBe(true);
    }
  });
});

describe('a body that does not match its declared size', () => {
  it.each([
    ['shorter', 40],
    ['longer', 160],
  ])('fails only that entry when it is %s, and the archive stays valid', async (_label, actual) => {
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    await writer.add({ path: 'a/before', size: text.length }, Readable.from([text]));
    await expect(writer.add({ path: 'a/broken', size: 100 }, Readable.from([Buffer.alloc(actual, 1)]))).rejects.toMatchObject({
      code: 'EARCHIVE',
      message: expect.stringContaining('a/broken'),
    });
    await writer.add({ path: 'a/after', size: text.length }, Readable.from([text]));
    const result = await writer.finish((entries) => ({ entries }));

    const out = join(dir.path, 'x');
    await mkdir(out);
    run('tar', ['xzf', archive, '-C', out]);
    expect(await readFile(join(out, 'a/before'))).toEqual(text);
    expect(await readFile(join(out, 'a/after'))).toEqual(text);
    expect((await stat(join(out, 'a/broken'))).size).toBe(100);
    expect(result.entries.find((e) => e.path === 'a/broken')?.error).toBeTruthy();
  });

  it('fails the entry when its source errors midway', async () => {
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(10));
        this.destroy(new Error('ssh channel closed'));
      },
    });
    await expect(writer.add({ path: 'a/cut', size: 50 }, failing)).rejects.toThrow(/ssh channel closed/);
    await writer.add({ path: 'a/after', size: text.length }, Readable.from([text]));
    await writer.finish((entries) => ({ entries }));
    expect(run('tar', ['tzf', archive]).trim().split('\n')).toEqual(['a/cut', 'a/after', 'metadata.json']);
  });
});

describe('abort', () => {
  it('removes spool files and destroys the sink', async () => {
    const spoolDir = join(dir.path, 'spool');
    await mkdir(spoolDir);
    const sink = fileSink(join(dir.path, 'out.tar.gz'));
    const writer = createArchiveWriter('tar.gz', sink, { spoolDir });
    const endless = new Readable({ read() { setTimeout(() => this.push(Buffer.alloc(4096)), 1); } });
    const adding = writer.add({ path: 'a/stdout' }, endless);
    await new Promise((r) => setTimeout(r, 100));
    expect((await readdir(spoolDir)).length).toBe(1);
    const spooled = await stat(join(spoolDir, (await readdir(spoolDir))[0]!));
    expect(spooled.mode & 0o777).toBe(0o600);
    await writer.abort();
    await expect(adding).rejects.toThrow();
    expect(await readdir(spoolDir)).toEqual([]);
    expect(sink.destroyed).toBe(true);
    await expect(writer.finish(() => ({}))).rejects.toThrow();
  });
});

describe('tar.zst without the zstd binary', () => {
  it('fails with an error that names the Debian package', async () => {
    const writer = createArchiveWriter('tar.zst', fileSink(join(dir.path, 'out.tar.zst')), { spoolDir: dir.path, zstdCommand: join(dir.path, 'no-zstd') });
    const attempt = (async () => {
      await writer.add({ path: 'a', size: text.length }, Readable.from([text]));
      await writer.finish((entries) => ({ entries }));
    })();
    await expect(attempt).rejects.toThrow(/install the Debian package 'zstd'/);
  });
});
