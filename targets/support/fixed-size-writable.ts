import { Writable } from 'node:stream';

/**
 * A Writable that hands its input on in pieces of exactly `size` bytes, or of `size(n)` bytes
 * for piece n (1-based) when sizes change as the upload goes on (the last piece may be
 * shorter, and is skipped when empty). Each write waits for `piece` to resolve, so a slow
 * upload holds the producer back and memory stays bounded to about one piece.
 */
export function fixedSizeWritable(size: number | ((n: number) => number), handlers: { piece(bytes: Buffer): Promise<void>; end?(): Promise<void> }): Writable {
  const sizeOf = typeof size === 'number' ? () => size : size;
  let pieces = 0;
  let current = sizeOf(1);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = async (chunk: Buffer) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= current) {
      const all = Buffer.concat(pending);
      pending = [all.subarray(current)];
      pendingBytes = all.length - current;
      const bytes = all.subarray(0, current);
      current = sizeOf(++pieces + 1);
      await handlers.piece(bytes);
    }
  };
  const finish = async () => {
    if (pendingBytes > 0) await handlers.piece(Buffer.concat(pending));
    pending = [];
    pendingBytes = 0;
    await handlers.end?.();
  };
  // The stream's callback is called once, after the async work: an error thrown by the callback
  // itself must not come back as a second call.
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      take(chunk).then(() => done(), done);
    },
    final(done) {
      finish().then(() => done(), done);
    },
  });
}
