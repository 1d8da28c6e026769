import { createHash, type Hash } from 'node:crypto';
import type { Writable } from 'node:stream';

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/**
 * One entry's body on its way into the archive: exactly `size` bytes, hashed as they pass.
 * A header with the size is already in the archive, so a body that stops early is zero-filled
 * and a long one is cut off: the container stays readable and `problem` says what happened.
 */
export class BodyWriter {
  private sent = 0;
  private readonly hash: Hash = createHash('sha256');
  /** Set when the body did not match its declared size or its source failed. */
  problem: string | undefined;

  constructor(
    readonly size: number,
    private readonly out: (chunk: Buffer) => Promise<void> | undefined,
  ) {}

  /** A promise means: wait for it before writing more. */
  write(chunk: Buffer): Promise<void> | undefined {
    const room = this.size - this.sent;
    if (chunk.length > room) {
      this.problem ??= `body is longer than its declared size of ${this.size} bytes; it was cut off`;
      if (room === 0) return undefined;
      chunk = chunk.subarray(0, room);
    }
    this.sent += chunk.length;
    this.hash.update(chunk);
    return this.out(chunk);
  }

  /** The source is done (`failure`: why it stopped): zero-fill what is missing; resolves to the hex sha256. */
  async finish(failure?: string): Promise<string> {
    if (failure) this.problem ??= `body failed after ${this.sent} of ${this.size} bytes: ${failure}`;
    if (this.sent < this.size) {
      this.problem ??= `body ended after ${this.sent} of its declared ${this.size} bytes; the rest is zero-filled`;
      while (this.sent < this.size) {
        const waiting = this.write(ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, this.size - this.sent)));
        if (waiting) await waiting;
      }
    }
    return this.hash.digest('hex');
  }
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
