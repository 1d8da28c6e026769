/**
 * Bodies of unknown length (a command's stdout) are held until they end, so their size is known
 * before their tar header (see docs/archive-format.md): a small one in memory, a larger one in a
 * private temp file.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BlockWriter } from './block-writer.js';

/**
 * Bodies up to this size stay in memory: most command outputs (versions, listings, `echo ok`)
 * then cost no file to write, read back and remove, and put no plaintext on disk.
 */
export const IN_MEMORY_BODY = 1024 * 1024;

/**
 * What all bodies held in memory may take together: hosts go on with their next step once their
 * output is held, so many outputs can wait for the archive at once (it is busy with files
 * streaming from hosts); past this they wait on disk.
 */
export const IN_MEMORY_TOTAL = 32 * 1024 * 1024;

/** Bytes of memory the writer's held bodies share (IN_MEMORY_TOTAL): taken while reading, given back once appended. */
export class MemoryBudget {
  private used = 0;
  constructor(private readonly limit = IN_MEMORY_TOTAL) {}

  /** Takes `bytes` if they fit; false (nothing taken) if not. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  giveBack(bytes: number): void {
    this.used -= bytes;
  }
}

/**
 * Spool files are written in blocks of this size. Copying SSH's 32 KiB chunks into blocks costs
 * less than a threadpool write per chunk, and releases at once the packet buffers each chunk
 * keeps alive (~47 KiB per chunk), so a spooling host holds about two blocks, not a queue of chunks.
 */
const SPOOL_WRITE_BLOCK = 256 * 1024;

/** Spool files are read back in 1 MiB pieces: one is read at a time, whatever the number of hosts. */
export const SPOOL_READ_SIZE = 1024 * 1024;

/** A body held until it ended: its size is now known. */
export type SpooledBody = { kind: 'memory'; size: number; bytes: Buffer } | { kind: 'file'; size: number; path: string };

/**
 * Holds `body` until it ends: in memory up to IN_MEMORY_BODY while `budget` has room (the caller
 * gives a memory body's size back once done with it), else in a 0600 file in `dir` (removed if
 * spooling fails; the caller removes it after use).
 */
export async function spoolBody(body: Readable, dir: string, budget: MemoryBudget): Promise<SpooledBody> {
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let headBytes = 0;
  /** What the head took from the budget. */
  let taken = 0;
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) return { kind: 'memory', size: headBytes, bytes: Buffer.concat(head, headBytes) };
      head.push(next.value);
      headBytes += next.value.length;
      if (headBytes > IN_MEMORY_BODY || !budget.take(next.value.length)) break;
      taken += next.value.length;
    }
  } catch (err) {
    budget.giveBack(taken);
    body.destroy();
    throw err;
  }
  budget.giveBack(taken);
  const path = join(dir, `.lsbackup-spool-${randomBytes(8).toString('hex')}`);
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: SPOOL_WRITE_BLOCK });
  // A file stream is done with a block once its write calls back: blocks are reused.
  const blocks = new BlockWriter(file, SPOOL_WRITE_BLOCK, true);
  try {
    for (const chunk of head) {
      const waiting = blocks.write(chunk);
      if (waiting) await waiting;
    }
    for await (const chunk of { [Symbol.asyncIterator]: () => chunks }) {
      const waiting = blocks.write(chunk);
      if (waiting) await waiting;
    }
    blocks.end();
    await finished(file);
  } catch (err) {
    body.destroy();
    file.destroy();
    await rm(path, { force: true });
    throw err;
  }
  return { kind: 'file', path, size: file.bytesWritten };
}

/** A spooled body being read back; `destroy()` makes the reading fail (the archive was aborted). */
export interface SpoolReader extends AsyncIterable<Buffer> {
  destroy(): void;
}

/**
 * The spool file at `path`, to append to the archive, in SPOOL_READ_SIZE pieces. With `buffer`
 * every piece is read into it, so the caller must be done with a piece before asking for the
 * next (the tar container copies it into its blocks); without, each piece is a new buffer (zip
 * keeps them). Why the reused buffer: 32 hosts' dumps are ~500 MB read back, and a new 1 MiB
 * buffer per read made V8 count that much external memory and answer it with ~15 full collections.
 */
export function readSpooled(path: string, buffer?: Buffer): SpoolReader {
  let destroyed = false;
  return {
    destroy() {
      destroyed = true;
    },
    async *[Symbol.asyncIterator]() {
      const file = await open(path, 'r');
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
