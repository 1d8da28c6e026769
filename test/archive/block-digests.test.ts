/**
 * engine/archive/block-digests.ts: what a second read of a stream hands on. A block goes on only
 * once its sha256 equals the recorded read's; the first difference (a changed byte, fewer or
 * more bytes) fails the stream, and nothing of the differing block has gone on.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES, checkBlocks, recordBlocks, type BlockDigests } from '../../engine/archive/block-digests.js';

/** Reads `bytes` through a recorder in uneven chunks (blocks do not start at chunk boundaries). */
async function record(bytes: Buffer): Promise<BlockDigests> {
  const recorder = recordBlocks();
  for await (const _ of Readable.from(chunks(bytes)).pipe(recorder)) void _;
  return recorder.digests();
}

function chunks(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, n = 1; at < bytes.length; at += 70_001 * n, n = (n % 3) + 1) out.push(bytes.subarray(at, at + 70_001 * n));
  return out;
}

/** What a checking read hands on, and why it failed. */
async function check(bytes: Buffer, expected: BlockDigests): Promise<{ out: Buffer; failure?: string }> {
  const checker = checkBlocks(expected);
  const got: Buffer[] = [];
  try {
    for await (const c of Readable.from(chunks(bytes)).pipe(checker)) got.push(c as Buffer);
  } catch {
    // failure() says why
  }
  return { out: Buffer.concat(got), failure: checker.failure() };
}

describe('block digests: a second read hands on only blocks the first one saw', () => {
  const original = randomBytes(3 * BLOCK_BYTES + 12_345);

  it('the same bytes: all of them, no failure', async () => {
    const r = await check(original, await record(original));
    expect(r.failure).toBeUndefined();
    expect(r.out.equals(original)).toBe(true);
  });

  it('one byte changed in the third block: the first two blocks and nothing of the third', async () => {
    const changed = Buffer.from(original);
    changed[2 * BLOCK_BYTES + 5] ^= 0xff;
    const r = await check(changed, await record(original));
    expect(r.failure).toBe(`bytes ${2 * BLOCK_BYTES}-${3 * BLOCK_BYTES - 1} differ from the verified ones`);
    expect(r.out.equals(original.subarray(0, 2 * BLOCK_BYTES))).toBe(true);
  });

  it('a byte changed in the last, short block: it is not handed on', async () => {
    const changed = Buffer.from(original);
    changed[original.length - 1] ^= 0xff;
    const r = await check(changed, await record(original));
    expect(r.failure).toMatch(/differ from the verified ones/);
    expect(r.out.length).toBe(3 * BLOCK_BYTES);
  });

  it.each([
    ['cut short mid-block', original.subarray(0, 2 * BLOCK_BYTES + 10), /^it ends after 2097162 bytes, 3158073 were verified$/],
    ['cut short at a block boundary', original.subarray(0, 2 * BLOCK_BYTES), /^it ends after 2097152 bytes/],
    ['longer', Buffer.concat([original, Buffer.from('x')]), /differ from the verified ones|longer/],
    [
      'longer by whole blocks',
      Buffer.concat([original.subarray(0, 3 * BLOCK_BYTES), original.subarray(3 * BLOCK_BYTES), randomBytes(BLOCK_BYTES)]),
      /differ|longer/,
    ],
  ])('%s: fails, and no byte past the verified length goes on', async (_what, bytes, reason) => {
    const r = await check(bytes, await record(original));
    expect(r.failure).toMatch(reason);
    expect(r.out.equals(original.subarray(0, r.out.length))).toBe(true);
    expect(r.out.length).toBeLessThan(original.length);
  });
});
