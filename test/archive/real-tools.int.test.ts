/**
 * The archive tests that need Debian packages (test/infra/apt-packages.txt): zstd for tar.zst,
 * unzip for reading zip with the real tool, python3 to count gzip members. Their tar.gz (and, for
 * reading back, zip) halves run in the unit tier: writer.test.ts, verify.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openArchiveReader } from '../../engine/archive/reader.js';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import { breakingSource, fileSink, gzipMemberCount, run, tarCutInSecondEntry, tempDirPerTest } from './helpers.js';
import { readAndVerify } from './read-and-verify.js';
import { readByRealTools } from './real-tool-read.js';

readByRealTools(['tar.zst', 'zip']);
readAndVerify(['tar.zst']);

describe('tar.gz', () => {
  const dir = tempDirPerTest();

  it('is a multi-member gzip stream that gunzip -t accepts', async () => {
    const big = randomBytes(2_500_000); // spans several 1 MiB gzip members
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    await writer.add({ path: 'a/big', size: big.length }, Readable.from([big]));
    await writer.finish((entries) => ({ entries }));
    expect(gzipMemberCount(archive)).toBeGreaterThanOrEqual(3);
    expect(() => run('gunzip', ['-t', archive])).not.toThrow();
  });
});

/** Whether a `zstd` this process started is still running (or not yet reaped). */
async function zstdChildRunning(): Promise<boolean> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …
    const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
    if (comm === 'zstd' && Number(rest?.split(' ')[1]) === process.pid) return true;
  }
  return false;
}

describe('a tar.zst with bytes after its last frame', () => {
  const dir = tempDirPerTest();

  // zstd writes all it decompressed, then exits 1 (`unsupported format`). Its failure used to tear
  // the stream down when zstd exited, dropping output the reader had not taken yet: on a busy
  // machine, restore said the damage was in metadata.json, which zstd had given whole. The reader
  // here takes each body only once zstd has exited (the busy machine, made certain), for sizes
  // that zstd can write whole into the pipes' buffers before it exits (so it does exit; the
  // wait is bounded for a machine whose buffers are smaller: the test then only loses strength).
  it.each([100_000, 130_000, 160_000])('gives a reader that is slower than zstd every entry whole, then zstd’s refusal (%d bytes)', async (size) => {
    const archive = join(dir.path, `out-${size}.tar.zst`);
    const writer = createArchiveWriter('tar.zst', fileSink(archive), { spoolDir: dir.path });
    await writer.add({ path: 'a/data', size }, Readable.from([randomBytes(size)]));
    await writer.finish((entries) => ({ entries }));
    await appendFile(archive, 'garbage after the last frame\n');

    const read: string[] = [];
    const reading = (async () => {
      for await (const { entry, body } of openArchiveReader(createReadStream(archive), 'tar.zst')) {
        for (let polls = 0; polls < 250 && (await zstdChildRunning()); polls++) await new Promise((resolve) => setTimeout(resolve, 20));
        let bytes = 0;
        for await (const chunk of body) bytes += (chunk as Buffer).length;
        read.push(`${entry.path} ${bytes}`);
      }
    })();
    await expect(reading).rejects.toThrow("'zstd' exited with 1: zstd: /*stdin*\\: unsupported format");
    expect(read).toEqual([`a/data ${size}`, expect.stringMatching(/^metadata\.json [1-9]\d*$/)]);
  });

  it('is refused at its start when it is not zstd at all, with zstd’s reason (not the pipe’s EPIPE)', async () => {
    const archive = join(dir.path, 'noise.tar.zst');
    await appendFile(archive, randomBytes(4_000_000));
    const reading = (async () => {
      for await (const item of openArchiveReader(createReadStream(archive), 'tar.zst')) item.body.resume();
    })();
    await expect(reading).rejects.toThrow("'zstd' exited with 1: zstd: /*stdin*\\: unsupported format");
  });
});

describe('a tar.zst whose download breaks', () => {
  const dir = tempDirPerTest();

  // The broken download used to destroy zstd's stream (and kill zstd), dropping what it had
  // decompressed and the reader had not taken: the damage was named in the entry before it. The
  // reader here takes the first body only once the download broke and zstd exited, which it can:
  // its output fits the pipes (tar.gz: reader-failures.test.ts).
  it('gives a reader slower than zstd every entry that arrived whole, then the download’s reason', async () => {
    const compressed = execFileSync('zstd', ['-q', '-c'], { input: await tarCutInSecondEntry(dir.path, 100 * 1024) });
    const source = breakingSource(compressed, 'connection reset by peer');
    const items = openArchiveReader(source, 'tar.zst');
    let delivered = 0;
    source.on('data', (chunk: Buffer) => (delivered += chunk.length));
    const read: string[] = [];
    const reading = (async () => {
      for await (const { entry, body } of items) {
        if (read.length === 0) {
          if (!source.destroyed) await once(source, 'close');
          for (let polls = 0; polls < 250 && (await zstdChildRunning()); polls++) await new Promise((resolve) => setTimeout(resolve, 20));
          expect(await zstdChildRunning()).toBe(false);
        }
        let bytes = 0;
        for await (const chunk of body) bytes += (chunk as Buffer).length;
        read.push(`${entry.path} ${bytes}`);
      }
    })();
    await expect(reading).rejects.toThrow('connection reset by peer');
    expect(delivered).toBe(compressed.length);
    expect(read).toEqual([`a/data ${100 * 1024}`]);
  });
});
