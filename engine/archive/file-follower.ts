import { createHash } from 'node:crypto';
import { fdatasync, read } from 'node:fs';
import { promisify } from 'node:util';
import { DEFAULT_BLOCK_SIZE } from './block-writer.js';

const readAt = promisify(read);
const flushToDisk = promisify(fdatasync);

/** How long to wait for the file to grow when the reader has caught up with the writer. */
const POLL_MS = 25;
/**
 * Flush to disk after this many new bytes, so the target's fsync at the end has little left to
 * write: at most this much, ~15 ms on this project's test machine (64 MiB left up to ~0.1 s).
 */
const FLUSH_EVERY = 8 * 1024 * 1024;

export interface FileFollower {
  /** The writer has finished: read the rest; resolves to what the file holds. */
  finish(): Promise<{ bytes: number; sha256: string }>;
  /** Stop reading (abort). */
  stop(): void;
}

/**
 * Hashes a file that another process (zstd) is appending to, by reading it back from the page
 * cache as it grows. Why: the compressed bytes then never pass through a pipe into this
 * process and out again into the file; one read is cheaper than that round trip, and the
 * digest still covers exactly the bytes stored. `fd` must be open for reading.
 *
 * It also flushes the file to disk every 8 MiB (fdatasync, one at a time): the local target
 * fsyncs the whole file before publishing it, and a 400 MB flush at the end is ~0.2 s of wall
 * time that can overlap with compression instead.
 */
export function followFile(fd: number): FileFollower {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(DEFAULT_BLOCK_SIZE);
  let position = 0;
  let flushedUpTo = 0;
  /** The flush in progress, if any: one at a time, and each covers everything written before it. */
  let flushing: Promise<void> | undefined;
  let writerDone = false;
  let stopped = false;
  let wake: (() => void) | undefined;

  const reading = (async () => {
    while (!stopped) {
      // Only a read that started after the writer was done proves the end of the file.
      const done = writerDone;
      const { bytesRead } = await readAt(fd, buffer, 0, buffer.length, position);
      if (bytesRead > 0) {
        hash.update(buffer.subarray(0, bytesRead));
        position += bytesRead;
        if (position - flushedUpTo >= FLUSH_EVERY && !writerDone && !flushing) {
          flushedUpTo = position;
          // In the background; a failure here shows again in the target's own fsync.
          flushing = flushToDisk(fd)
            .catch(() => {})
            .then(() => {
              flushing = undefined;
            });
        }
        continue;
      }
      if (done) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, POLL_MS);
      });
    }
  })();
  reading.catch(() => {}); // finish() reports it

  return {
    async finish() {
      writerDone = true;
      wake?.();
      await reading;
      await flushing;
      if (stopped) throw new Error('stopped before the end of the file');
      return { bytes: position, sha256: hash.digest('hex') };
    },
    stop() {
      stopped = true;
      wake?.();
    },
  };
}
