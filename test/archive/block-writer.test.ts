import { once } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BlockWriter } from '../../engine/archive/block-writer.js';

/** A stream that takes each chunk only on the next turn of the event loop, so its buffer fills. */
function slowSink(received: Buffer[]): Writable {
  return new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, callback) {
      received.push(Buffer.from(chunk));
      setImmediate(callback);
    },
  });
}

describe('BlockWriter', () => {
  it('ends with a last chunk that fills a block while the stream is full, without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const received: Buffer[] = [];
      const sink = slowSink(received);
      const blocks = new BlockWriter(sink, 4);
      await blocks.write(Buffer.from('abcd')); // a full block: the stream is now over its mark
      void blocks.write(Buffer.from('ef'));
      blocks.end(Buffer.from('gh')); // fills the second block while the stream still asks to wait
      await once(sink, 'close');
      // Rejections nobody handled are reported once the microtasks of this turn have run.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(Buffer.concat(received).toString()).toBe('abcdefgh');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
