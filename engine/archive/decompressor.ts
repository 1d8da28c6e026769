import { once } from 'node:events';
import { Duplex, Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * A decompressor an archive is read through (gunzip, zstd -d): its bytes in and out, and how it
 * ended. Its failure is reported through `exited`, never by tearing `stream` down: a stream
 * destroyed on a failure drops output its reader has not taken yet, so a damaged archive was said
 * to be damaged in an entry before the damage when the reader was slower (a busy machine).
 */
export interface Decompressor {
  /** Bytes written in come out decompressed; it ends after the last byte decompressed, whatever the end. */
  stream: Duplex;
  /**
   * Rejects with the decompressor's failure (a truncated or corrupt archive). Read it once
   * `stream` has ended: the output ends before the failure is known.
   */
  exited: Promise<void>;
}

/**
 * Input goes to zlib in pieces of at most this size, each once the reader took the output of the
 * one before: what waits for the reader is one piece's output (deflate expands at most ~1032
 * times: 16 MiB for a piece of zeros, a few times the piece for most data).
 */
const GUNZIP_PIECE = 16 * 1024;

/**
 * Node's gunzip, whose failure (a truncated or corrupt tar.gz) comes after its output. zlib
 * destroys itself on a failure, dropping what it holds for a slow reader; here it is read as
 * soon as it comes (zlib holds nothing) and the reader is made to wait for the input instead.
 */
export function createGunzipDecompressor(): Decompressor {
  const gunzip = createGunzip();
  let failed = false;
  const exited = new Promise<void>((resolve, reject) => {
    gunzip.once('end', resolve);
    gunzip.once('error', (err) => {
      failed = true;
      reject(err);
    });
  });
  exited.catch(() => {}); // the reader awaits it once the output ended
  let roomWanted: (() => void) | undefined;
  const output = new Readable({
    read() {
      const resume = roomWanted;
      roomWanted = undefined;
      resume?.();
    },
  });
  gunzip.on('data', (chunk: Buffer) => output.push(chunk));
  const endOutput = () => output.push(null);
  gunzip.once('end', endOutput).once('error', endOutput);
  const closed = once(gunzip, 'close').catch(() => undefined);
  const feed = async (chunk: Buffer) => {
    for (let at = 0; at < chunk.length && !failed; at += GUNZIP_PIECE) {
      await Promise.race([new Promise((written) => gunzip.write(chunk.subarray(at, at + GUNZIP_PIECE), written)), closed]);
      while (!failed && output.readableLength >= output.readableHighWaterMark) await new Promise<void>((resume) => (roomWanted = resume));
    }
  };
  // After a failure the rest of the input goes nowhere (`exited` says why), as with zstd.
  const input = new Writable({
    write(chunk: Buffer, _enc, callback) {
      void feed(chunk).then(() => callback());
    },
    final(callback) {
      if (!failed) gunzip.end();
      callback();
    },
  });
  const stream = Duplex.from({ writable: input, readable: output });
  stream.on('close', () => gunzip.destroy());
  return { stream, exited };
}
