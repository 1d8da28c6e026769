/**
 * File names are bytes on Linux, not text: `x\xff` is a valid name that is not UTF-8. lsbackup
 * carries names as JS strings (metadata.json, entry paths), so a byte that is not part of valid
 * UTF-8 is kept as a lone surrogate U+DC80..U+DCFF (Python's "surrogateescape"). Valid UTF-8
 * never decodes to a lone surrogate, so the mapping is reversible: nameToBytes(nameFromBytes(b))
 * is b for every b. JSON writes such a character as `\udcff` and reads it back unchanged.
 * Where a name meets the outside (tar headers, zip, the staging disk) it goes back to bytes.
 */

const REPLACEMENT = '\uFFFD';
const ESCAPE_BASE = 0xdc00;

/** Bytes -> name; invalid UTF-8 bytes become U+DC80..U+DCFF. */
export function nameFromBytes(bytes: Buffer, start = 0, end = bytes.length): string {
  const text = bytes.toString('utf8', start, end);
  if (!text.includes(REPLACEMENT)) return text; // valid UTF-8: the common case, no copy per byte
  let out = '';
  let i = start;
  while (i < end) {
    const length = validSequenceLength(bytes, i, end);
    if (length === 0) {
      out += String.fromCharCode(ESCAPE_BASE + bytes[i]!);
      i++;
    } else {
      out += bytes.toString('utf8', i, i + length);
      i += length;
    }
  }
  return out;
}

/** Name -> bytes: the inverse of nameFromBytes (valid text is UTF-8, escaped bytes come back as they were). */
export function nameToBytes(name: string): Buffer {
  if (!hasEscapedBytes(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < name.length) {
      const next = name.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a real pair: an astral character
        continue;
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      parts.push(Buffer.from(name.slice(run, i), 'utf8'), Buffer.from([c - ESCAPE_BASE]));
      run = i + 1;
    }
  }
  parts.push(Buffer.from(name.slice(run), 'utf8'));
  return Buffer.concat(parts);
}

/** True when the name holds bytes that are not UTF-8 (it needs nameToBytes, not Buffer.from). */
export function hasEscapedBytes(name: string): boolean {
  return /(?<![\ud800-\udbff])[\udc80-\udcff]/.test(name);
}

/** The length of the valid UTF-8 sequence at bytes[i], or 0 (strict: no overlongs, surrogates or > U+10FFFF). */
function validSequenceLength(bytes: Buffer, i: number, end: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < end && bytes[i + k]! >= lo && bytes[i + k]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}
