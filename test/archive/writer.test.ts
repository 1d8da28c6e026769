import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import { fileSink, run, tempDir, tricklingBody } from './helpers.js';
import { readByRealTools } from './real-tool-read.js';
import { drainMicrotasks } from '../helpers/microtasks.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await dir.cleanup();
});

const text = Buffer.from('hello, archive\n');

readByRealTools(['tar.gz']); // tar.zst and zip need Debian packages: real-tools.int.test.ts

describe('concurrent adds', () => {
  it('never interleave the bytes of two entries', async () => {
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    // Random bytes, up to ~2.3 MiB: a spooled body (every other one) is read back in several
    // pieces through the writer's one reused buffer, so a piece read over another shows here.
    const bodies = Array.from({ length: 12 }, (_, i) => randomBytes(50_000 + i * 200_000));
    await Promise.all(bodies.map((body, i) => writer.add({ path: `c/h${i}/data`, size: i % 2 ? body.length : undefined }, tricklingBody(body))));
    await writer.finish((entries) => ({ entries }));
    const out = join(dir.path, 'x');
    await mkdir(out);
    run('tar', ['xzf', archive, '-C', out]);
    for (const [i, body] of bodies.entries()) {
      expect((await readFile(join(out, `c/h${i}/data`))).equals(body)).toBe(true);
    }
  });
});

describe('command outputs held in memory', () => {
  it('give their memory back once appended: 40 outputs of 1 MiB one after another never need the spool directory', async () => {
    const archive = join(dir.path, 'out.tar.gz');
    // Missing: a body that went to a spool file would fail here.
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: join(dir.path, 'missing') });
    const body = randomBytes(1024 * 1024);
    for (let i = 0; i < 40; i++) await writer.add({ path: `c/h/out${i}` }, tricklingBody(body, 65536));
    const result = await writer.finish((entries) => ({ entries }));
    expect(result.entries).toHaveLength(40);
  });
});

describe('finish', () => {
  it('waits for an entry opened by a caller to end: metadata.json lists it and stays the last entry', async () => {
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    const entry = await writer.open({ path: 'c/h/late', size: text.length });
    let finished = false;
    const finishing = writer
      .finish((entries) => ({ entries }))
      .then((result) => {
        finished = true;
        return result;
      });
    await drainMicrotasks();
    expect(finished).toBe(false); // the open entry still holds the archive
    await entry.write(text);
    await entry.end();
    const result = await finishing;
    expect(result.entries.map((e) => e.path)).toEqual(['c/h/late']);
    expect(run('tar', ['tzf', archive]).trim().split('\n')).toEqual(['c/h/late', 'metadata.json']);
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
    const endless = new Readable({
      read() {
        setImmediate(() => this.push(Buffer.alloc(65536)));
      },
    });
    const adding = writer.add({ path: 'a/stdout' }, endless);
    // Past what is held in memory (spool.ts), the body goes to a spool file.
    while ((await readdir(spoolDir)).length === 0) await new Promise((r) => setTimeout(r, 20));
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
