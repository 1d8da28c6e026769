import type { Duplex, Readable } from 'node:stream';

/**
 * `from.pipe(to)`, where `from` failing (a broken download, a target gone away) does not tear
 * `to` down: `to`'s input ends after the last byte that arrived, its reader takes every byte it
 * holds, and then `to` fails with `from`'s reason in place of its end, or of its own complaint
 * about the cut input (age's truncated chunk). Destroying `to` at once dropped the bytes it held
 * for a slower reader, and a broken download was reported in an entry before the one it broke
 * in. Every link of a stored archive's read goes through it, the archive reader's decompressor
 * too (engine/archive/reader.ts).
 */
export function pipeHoldingFailure<T extends Duplex>(from: Readable, to: T): T {
  let failure: Error | undefined;
  let scheduled = false;
  const destroy = to.destroy.bind(to);
  const push = to.push.bind(to);
  const read = to.read.bind(to);
  let failing = false;
  const failOnceRead = () => {
    failing = true;
    if (scheduled || to.readableLength > 0) return;
    scheduled = true;
    process.nextTick(() => destroy(failure));
  };
  to.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk !== null || !failure) return push(chunk, encoding);
    failOnceRead();
    return false;
  };
  to.read = (size?: number): unknown => {
    const chunk: unknown = read(size);
    if (failing) failOnceRead();
    return chunk;
  };
  to.destroy = (err?: Error) => {
    // Its own failure after the input was cut is the cut's: said with the source's reason.
    if (!err || !failure) return destroy(err);
    failOnceRead();
    return to;
  };
  from.on('error', (err) => {
    failure ??= err;
    if (!to.writableEnded) to.end();
  });
  return from.pipe(to);
}
