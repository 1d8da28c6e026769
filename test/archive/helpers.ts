import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach } from 'vitest';
import { createArchiveWriter } from '../../engine/archive/writer.js';

export async function tempDir(prefix = 'lsb-archive-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A fresh temp dir for each test of the enclosing describe (or file), removed after it. */
export function tempDirPerTest(): { readonly path: string } {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.cleanup());
  return {
    get path() {
      return dir.path;
    },
  };
}

export function fileSink(path: string) {
  return createWriteStream(path);
}

/** A body that arrives in small chunks across event-loop turns, like a network stream. */
export function tricklingBody(data: Buffer, chunk = 997): Readable {
  let offset = 0;
  return new Readable({
    read() {
      setImmediate(() => {
        if (offset >= data.length) return this.push(null);
        this.push(data.subarray(offset, offset + chunk));
        offset += chunk;
      });
    },
  });
}

export function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8' });
}

/** Number of gzip members in a file, counted by Python's zlib (unused_data after each member). */
export function gzipMemberCount(path: string): number {
  const py = `
import sys, zlib
data = open(sys.argv[1], 'rb').read(); n = 0
while data:
    d = zlib.decompressobj(31); d.decompress(data); n += 1; data = d.unused_data
print(n)`;
  return Number(run('python3', ['-c', py, path]).trim());
}

/**
 * The tar stream of two entries of zeros, `a/data` (`aSize` bytes) and `b/data` (1 MiB), cut 1000
 * bytes into b's body: what a reader gets before a broken download or a truncated archive. Zeros
 * compress to almost nothing, so all of it fits in the pipes before the reader takes anything.
 */
export async function tarCutInSecondEntry(dir: string, aSize: number): Promise<Buffer> {
  const path = join(dir, 'whole.tar.gz');
  const writer = createArchiveWriter('tar.gz', fileSink(path), { spoolDir: dir });
  await writer.add({ path: 'a/data', size: aSize }, Readable.from([Buffer.alloc(aSize)]));
  await writer.add({ path: 'b/data', size: 1024 * 1024 }, Readable.from([Buffer.alloc(1024 * 1024)]));
  await writer.finish((entries) => ({ entries }));
  const tar = gunzipSync(await readFile(path));
  const bHeader = tar.indexOf('b/data\0');
  return tar.subarray(0, bHeader + 512 + 1000);
}

/**
 * A download that delivers `bytes`, then breaks with `why` when asked for more. highWaterMark 0:
 * it is asked for more only once its reader took what it had, so every byte reached the reader.
 */
export function breakingSource(bytes: Buffer, why: string): Readable {
  let sent = false;
  return new Readable({
    highWaterMark: 0,
    read() {
      if (sent) return this.destroy(new Error(why));
      sent = true;
      this.push(bytes);
    },
  });
}
