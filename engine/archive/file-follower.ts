import { createHash } from 'node:crypto';
import { read } from 'node:fs';
import { promisify } from 'node:util';
import { DEFAULT_BLOCK_SIZE } from './block-writer.js';

const readAt = promisify(read);

/** How long to wait for the file to grow when the reader has caught up with the writer. */
const POLL_MS = 25;

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
 */
export function followFile(fd: number): FileFollower {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(DEFAULT_BLOCK_SIZE);
  let position = 0;
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
      if (stopped) throw new Error('stopped before the end of the file');
      return { bytes: position, sha256: hash.digest('hex') };
    },
    stop() {
      stopped = true;
      wake?.();
    },
  };
}
