import * as crypto from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { Writable } from 'node:stream';

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/**
 * crypto.hash (Node >= 20.12): a one-shot digest, about half the cost of createHash + update +
 * digest for a small body, which is most of a host's config files. Undefined on older Node 20s.
 */
const hashAtOnce = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'hex') => string }).hash;

/**
 * One entry's body on its way into the archive: exactly `size` bytes, hashed as they pass.
 * A header with the size is already in the archive, so a body that stops early is zero-filled
 * and a long one is cut off: the container stays readable and `problem` says what happened.
 */
export class BodyWriter {
  private sent = 0;
  /** The running hash, made at the first write unless that write was the whole body. */
  private hash: Hash | undefined;
  /** The digest of a body that came in one write. */
  private digest: string | undefined;
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
    if (this.sent === 0 && chunk.length === this.size && hashAtOnce) this.digest = hashAtOnce('sha256', chunk, 'hex');
    else (this.hash ??= crypto.createHash('sha256')).update(chunk);
    this.sent += chunk.length;
    return this.out(chunk);
  }

  /**
   * The source is done (`failure`: why it stopped): zero-fill what is missing; the hex sha256,
   * at once unless filling had to wait for the archive.
   */
  finish(failure?: string): string | Promise<string> {
    if (failure) this.problem ??= `body failed after ${this.sent} of ${this.size} bytes: ${failure}`;
    if (this.sent < this.size) {
      this.problem ??= `body ended after ${this.sent} of its declared ${this.size} bytes; the rest is zero-filled`;
      return this.zeroFill().then(() => this.hexDigest());
    }
    return this.hexDigest();
  }

  private hexDigest(): string {
    return this.digest ?? (this.hash ?? crypto.createHash('sha256')).digest('hex');
  }

  private async zeroFill(): Promise<void> {
    while (this.sent < this.size) {
      const waiting = this.write(ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, this.size - this.sent)));
      if (waiting) await waiting;
    }
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
