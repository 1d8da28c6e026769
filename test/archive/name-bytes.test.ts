/** Names as bytes (engine/archive/name-bytes.ts): every byte string survives the trip through a JS string and JSON. */
import { expect, it } from 'vitest';
import fc from 'fast-check';
import { hasEscapedBytes, nameFromBytes, nameToBytes } from '../../engine/archive/name-bytes.js';

it('round-trips any bytes, through JSON too, and keeps distinct names distinct', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
      const name = nameFromBytes(Buffer.from(a));
      expect(nameToBytes(name)).toEqual(Buffer.from(a));
      expect(nameToBytes(JSON.parse(JSON.stringify(name)) as string)).toEqual(Buffer.from(a));
      if (!Buffer.from(a).equals(Buffer.from(b))) expect(nameFromBytes(Buffer.from(b))).not.toBe(name);
    }),
    { seed: 12, numRuns: 500 },
  );
});

it('leaves valid UTF-8 as text, astral characters included', () => {
  for (const text of ['plain', 'café', '名前', '🎉 x', '\uFFFD literal']) {
    expect(nameFromBytes(Buffer.from(text))).toBe(text);
    expect(hasEscapedBytes(text)).toBe(false);
  }
  expect(nameFromBytes(Buffer.from([0x78, 0xff]))).toBe('x\udcff');
  expect(hasEscapedBytes('x\udcff')).toBe(true);
});
