/**
 * The sha256 of every 1 MiB block of a stream, recorded in one read and checked in another
 * (restore's stream mode reads an archive twice: engine/restore/second-pass.ts). The checking
 * read holds each block back until its digest matched, so no byte that differs from the recorded
 * read goes further. A digest per block (32 bytes a MiB) rather than one for the whole stream:
 * a whole-stream digest is known only at its end, after every body was handed on.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';

export const BLOCK_BYTES = 1024 * 1024;

/** Digests kept in pages, not one Buffer each: a 1 TB archive is a million blocks. */
const DIGESTS_PER_PAGE = 1024;
const DIGEST_BYTES = 32;

/** What the recording read saw: its length and each block's sha256. */
export interface BlockDigests {
  bytes: number;
  count: number;
  digest(index: number): Buffer;
}

/** Splits a stream into blocks: each piece of a chunk, and the end of each whole block. */
class BlockCutter {
  private filled = 0;
  bytes = 0;

  cut(chunk: Buffer, onPiece: (piece: Buffer) => void, onBlockEnd: () => void): void {
    for (let at = 0; at < chunk.length;) {
      const take = Math.min(BLOCK_BYTES - this.filled, chunk.length - at);
      onPiece(chunk.subarray(at, at + take));
      at += take;
      this.filled += take;
      this.bytes += take;
      if (this.filled === BLOCK_BYTES) {
        this.filled = 0;
        onBlockEnd();
      }
    }
  }

  /** A last block shorter than BLOCK_BYTES is pending. */
  partial(): boolean {
    return this.filled > 0;
  }
}

/** A pass-through that records the digest of each block going by. */
export function recordBlocks(): Transform & { digests(): BlockDigests } {
  const cutter = new BlockCutter();
  const pages: Buffer[] = [];
  let count = 0;
  let hash = createHash('sha256');
  const store = () => {
    if (count % DIGESTS_PER_PAGE === 0) pages.push(Buffer.alloc(DIGESTS_PER_PAGE * DIGEST_BYTES));
    hash.digest().copy(pages.at(-1)!, (count % DIGESTS_PER_PAGE) * DIGEST_BYTES);
    count++;
    hash = createHash('sha256');
  };
  const recorder = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      cutter.cut(chunk, (piece) => hash.update(piece), store);
      callback(null, chunk);
    },
    flush(callback) {
      if (cutter.partial()) store();
      callback();
    },
  });
  const digests: BlockDigests = {
    get bytes() {
      return cutter.bytes;
    },
    get count() {
      return count;
    },
    digest: (index) => {
      const offset = (index % DIGESTS_PER_PAGE) * DIGEST_BYTES;
      return pages[Math.floor(index / DIGESTS_PER_PAGE)]!.subarray(offset, offset + DIGEST_BYTES);
    },
  };
  return Object.assign(recorder, { digests: () => digests });
}

/**
 * A pass-through that passes a block on only once its digest equals the recorded one; the first
 * difference (a changed block, fewer or more bytes) fails the stream, and failure() says what it was.
 */
export function checkBlocks(expected: BlockDigests): Transform & { failure(): string | undefined } {
  const cutter = new BlockCutter();
  let held: Buffer[] = [];
  let hash: Hash = createHash('sha256');
  let index = 0;
  let failure: string | undefined;
  const release = (push: (piece: Buffer) => void): string | undefined => {
    const start = index * BLOCK_BYTES;
    if (index >= expected.count) return `it is longer than the ${expected.bytes} bytes verified`;
    if (!hash.digest().equals(expected.digest(index)))
      return `bytes ${start}-${Math.min(start + BLOCK_BYTES, expected.bytes) - 1} differ from the verified ones`;
    for (const piece of held) push(piece);
    held = [];
    hash = createHash('sha256');
    index++;
    return undefined;
  };
  const checker = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      cutter.cut(
        chunk,
        (piece) => {
          if (failure !== undefined) return; // the rest of the chunk goes nowhere
          hash.update(piece);
          held.push(piece);
        },
        () => (failure ??= release((piece) => this.push(piece))),
      );
      callback(failure === undefined ? null : new Error(failure));
    },
    flush(callback) {
      if (cutter.bytes < expected.bytes) failure = `it ends after ${cutter.bytes} bytes, ${expected.bytes} were verified`;
      else if (cutter.partial()) failure = release((piece) => this.push(piece));
      else if (cutter.bytes > expected.bytes) failure = `it is longer than the ${expected.bytes} bytes verified`;
      callback(failure === undefined ? null : new Error(failure));
    },
  });
  return Object.assign(checker, { failure: () => failure });
}
