import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { DEFAULT_BLOCK_SIZE } from './block-writer.js';

/** A pass-through at the sink side that counts and hashes the bytes as stored. */
export function createMeter(): Transform & { bytes(): number; sha256(): string } {
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    highWaterMark: DEFAULT_BLOCK_SIZE,
    transform(chunk: Buffer, _enc, callback) {
      bytes += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  return Object.assign(meter, { bytes: () => bytes, sha256: () => hash.digest('hex') });
}
