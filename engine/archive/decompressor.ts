import type { Duplex } from 'node:stream';
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
 * Node's gunzip, whose failure (a truncated or corrupt tar.gz) comes after its output. zlib
 * destroys itself on a failure, which drops the output it holds for a slow reader (up to its
 * buffer and the last chunk's output); here the failure is held, the output ends after what was
 * decompressed, and `exited` gives the failure. The stream is zlib's own: no copy, no extra hop
 * (a wrapper that fed zlib piece by piece cost ~20 % more CPU on a 440 MB tar.gz).
 */
export function createGunzipDecompressor(): Decompressor {
  const gunzip = createGunzip();
  let failure: Error | undefined;
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const exited = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  exited.catch(() => {}); // the reader awaits it once the output ended
  const destroy = gunzip.destroy.bind(gunzip);
  // zlib reports its own failures (code Z_DATA_ERROR, Z_BUF_ERROR, …) by destroy(error); every
  // other destroy, with or without an error, is as usual.
  gunzip.destroy = (err?: Error | null) => {
    const zlibFailure = (err as NodeJS.ErrnoException | null | undefined)?.code?.startsWith('Z_');
    if (!err || !zlibFailure || failure || gunzip.readableEnded) return destroy(err ?? undefined);
    failure = err;
    settle!.reject(err);
    gunzip.push(null);
    return gunzip;
  };
  gunzip.once('end', () => {
    if (failure)
      destroy(); // frees zlib's handle; the failure is already in `exited`
    else settle!.resolve();
  });
  gunzip.once('error', (err) => settle!.reject(err));
  return { stream: gunzip, exited };
}
