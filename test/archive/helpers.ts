import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach } from 'vitest';

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
