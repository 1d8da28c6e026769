import { Writable } from 'node:stream';

/**
 * A Writable that hands its input on in pieces of exactly `size` bytes (the last one may
 * be shorter, and is skipped when empty). Each write waits for `piece` to resolve, so a
 * slow upload holds the producer back and memory stays bounded to about one piece.
 */
export function fixedSizeWritable(
  size: number,
  handlers: { piece(bytes: Buffer): Promise<void>; end?(): Promise<void> },
): Writable {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  return new Writable({
    async write(chunk: Buffer, _encoding, done) {
      try {
        pending.push(chunk);
        pendingBytes += chunk.length;
        while (pendingBytes >= size) {
          const all = Buffer.concat(pending);
          pending = [all.subarray(size)];
          pendingBytes = all.length - size;
          await handlers.piece(all.subarray(0, size));
        }
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    async final(done) {
      try {
        if (pendingBytes > 0) await handlers.piece(Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
        await handlers.end?.();
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
}
