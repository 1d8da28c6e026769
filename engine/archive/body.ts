import { createHash, type Hash } from 'node:crypto';
import type { Writable } from 'node:stream';

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** What went wrong with one entry's body (set by `exactBytes`); the archive itself stays valid. */
export interface BodyReport {
  problem?: string;
}

/**
 * Yields exactly `size` bytes from `source`, hashing what it yields. A header with the size
 * is already in the archive, so a short or failing body is padded with zeros and a long one
 * is cut off: the container stays readable and `report.problem` says what happened.
 */
export async function* exactBytes(
  source: AsyncIterable<Buffer>,
  size: number,
  hash: Hash,
  report: BodyReport,
): AsyncGenerator<Buffer> {
  let sent = 0;
  try {
    for await (const chunk of source) {
      const room = size - sent;
      if (chunk.length > room) {
        const part = chunk.subarray(0, room);
        sent += part.length;
        hash.update(part);
        if (part.length) yield part;
        report.problem = `body is longer than its declared size of ${size} bytes; it was cut off`;
        break; // ends the for-await, which destroys the source
      }
      sent += chunk.length;
      hash.update(chunk);
      yield chunk;
    }
  } catch (err) {
    report.problem = `body failed after ${sent} of ${size} bytes: ${(err as Error).message}`;
  }
  if (sent < size) {
    report.problem ??= `body ended after ${sent} of its declared ${size} bytes; the rest is zero-filled`;
    while (sent < size) {
      const pad = ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, size - sent));
      sent += pad.length;
      hash.update(pad);
      yield pad;
    }
  }
}

export function newSha256(): Hash {
  return createHash('sha256');
}

/** Resolves on the stream's next 'drain'; rejects if it closes or fails first. */
export function waitForDrain(stream: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = (err?: Error) => done(err ?? stream.errored ?? new Error('archive stream closed while writing'));
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onClose);
  });
}
