/**
 * Bodies of unknown length (a command's stdout) go to a private temp file first, so their size is
 * known before their tar header (see docs/archive-format.md).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BlockWriter } from './block-writer.js';

/**
 * Spool files are written in blocks of this size. Copying SSH's 32 KiB chunks into blocks costs
 * less than a threadpool write per chunk, and releases at once the packet buffers each chunk
 * keeps alive (~47 KiB per chunk), so a spooling host holds about two blocks, not a queue of chunks.
 */
const SPOOL_WRITE_BLOCK = 256 * 1024;

/** Spool files are read back in 1 MiB pieces: one is read at a time, whatever the number of hosts. */
export const SPOOL_READ_SIZE = 1024 * 1024;

export interface SpooledBody {
  path: string;
  size: number;
}

/** Copy `body` to a 0600 file in `spoolDir`; the file is removed if the copy fails. */
export async function spoolBody(body: Readable, spoolDir: string): Promise<SpooledBody> {
  const path = join(spoolDir, `.lsbackup-spool-${randomBytes(8).toString('hex')}`);
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: SPOOL_WRITE_BLOCK });
  // A file stream is done with a block once its write calls back: blocks are reused.
  const blocks = new BlockWriter(file, SPOOL_WRITE_BLOCK, true);
  try {
    for await (const chunk of body) {
      const waiting = blocks.write(chunk as Buffer);
      if (waiting) await waiting;
    }
    blocks.end();
    await finished(file);
  } catch (err) {
    file.destroy();
    await rm(path, { force: true });
    throw err;
  }
  return { path, size: file.bytesWritten };
}

/** A spooled body being read back; `destroy()` makes the reading fail (the archive was aborted). */
export interface SpoolReader extends AsyncIterable<Buffer> {
  destroy(): void;
}

/**
 * The spooled body, to append to the archive, in SPOOL_READ_SIZE pieces. With `buffer` every
 * piece is read into it, so the caller must be done with a piece before asking for the next
 * (the tar container copies it into its blocks); without, each piece is a new buffer (zip keeps
 * them). Why the reused buffer: 32 hosts' dumps are ~500 MB read back, and a new 1 MiB buffer
 * per read made V8 count that much external memory and answer it with ~15 full collections.
 */
export function readSpooled(spooled: SpooledBody, buffer?: Buffer): SpoolReader {
  let destroyed = false;
  return {
    destroy() {
      destroyed = true;
    },
    async *[Symbol.asyncIterator]() {
      const file = await open(spooled.path, 'r');
      try {
        for (let position = 0; ;) {
          if (destroyed) throw new Error('reading the spooled body was stopped');
          const into = buffer ?? Buffer.allocUnsafe(SPOOL_READ_SIZE);
          const { bytesRead } = await file.read(into, 0, into.length, position);
          if (bytesRead === 0) return;
          position += bytesRead;
          yield into.subarray(0, bytesRead);
        }
      } finally {
        await file.close();
      }
    },
  };
}
