/**
 * The 512-byte tar header (POSIX ustar, with pax extended headers for what does not fit), read
 * and written without intermediate strings or objects per field. Why not node-tar's Header and
 * Pax: for a host's 10,000 small files their per-field strings, regexes and object merging
 * cost more CPU (and garbage collection) than moving the files' bytes.
 */

import { hasEscapedBytes, nameFromBytes, nameToBytes } from '../name-bytes.js';

export const TAR_BLOCK = 512;

/** The fields lsbackup reads from, and writes into, a header. */
export interface HeaderFields {
  path: string;
  /** The type flag as a character: '0' file, '1' hardlink, '2' symlink, '5' directory, 'x' pax... */
  flag: string;
  size: number;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: Date;
  linkpath?: string;
  /**
   * A PAX 1.0 sparse member (sparse.ts): `size` is the stored size (map and data), the
   * file's own size is `realSize`. Only the restore stream to a host's tar writes these.
   */
  sparse?: { realSize: number };
}

/** Values an extended header (pax 'x'/'g', GNU 'L'/'K') sets for the member that follows. */
export type ExtendedFields = Partial<Pick<HeaderFields, 'path' | 'linkpath' | 'size' | 'uid' | 'gid' | 'uname' | 'gname' | 'mtime' | 'mode'>>;

const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');
const SPACE = 0x20;

// ---------------------------------------------------------------- reading

/** A NUL-terminated string field (UTF-8; bytes that are not UTF-8 are kept: name-bytes.ts). */
function readString(block: Buffer, offset: number, length: number): string {
  let end = block.indexOf(0, offset);
  if (end < 0 || end > offset + length) end = offset + length;
  return nameFromBytes(block, offset, end);
}

/** An octal field (leading spaces, digits, then NUL or space), or GNU base-256 for big or negative values. */
function readNumber(block: Buffer, offset: number, length: number): number | undefined {
  const first = block[offset]!;
  if (first & 0x80) {
    // base-256: 0x80 positive, 0xff negative (two's complement)
    const negative = first === 0xff;
    let value = negative ? ~first & 0x7f : first & 0x7f;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + (negative ? ~block[i]! & 0xff : block[i]!);
    return negative ? -(value + 1) : value;
  }
  let i = offset;
  const end = offset + length;
  while (i < end && block[i] === SPACE) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]! - 0x30;
    if (c < 0 || c > 7) break;
    value = value * 8 + c;
    digits++;
  }
  return digits > 0 ? value : undefined;
}

/**
 * One header block as written; 'end' for an all-zero block. Throws when the checksum does not
 * match (the stream is not tar, or is damaged).
 */
export function decodeHeader(block: Buffer): HeaderFields | 'end' {
  let sum = 8 * SPACE; // the checksum field counts as spaces
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < TAR_BLOCK; i++) sum += block[i]!;
  const checksum = readNumber(block, 148, 8);
  if (checksum === undefined && sum === 8 * SPACE) return 'end';
  if (checksum !== sum) throw new Error('a tar header has a bad checksum: the stream is not tar or is damaged');

  let path = readString(block, 0, 100);
  const posix = block.compare(USTAR_MAGIC, 0, 6, 257, 263) === 0; // POSIX 'ustar\0'; GNU writes 'ustar ' and no prefix
  const ustar = block.compare(USTAR_MAGIC, 0, 5, 257, 262) === 0;
  if (posix) {
    // The prefix is 155 bytes, or 130 when star keeps atime/ctime after it (its byte 130 is then NUL).
    const prefix = readString(block, 345, block[475] !== 0 ? 155 : 130);
    if (prefix) path = `${prefix}/${path}`;
  }
  const flag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
  const mtime = readNumber(block, 136, 12);
  return {
    path,
    flag,
    size: readNumber(block, 124, 12) ?? 0,
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    uname: ustar ? readString(block, 265, 32) : undefined,
    gname: ustar ? readString(block, 297, 32) : undefined,
    mtime: mtime === undefined ? undefined : new Date(mtime * 1000),
    linkpath: readString(block, 157, 100),
  };
}

/** A member's header (decodeHeader's, changed in place) with what its extended headers said laid over it. */
export function withExtended(header: HeaderFields, extended: ExtendedFields | undefined): HeaderFields {
  const merged = extended ? Object.assign(header, extended) : header;
  // Old tars marked a directory as a file whose name ends in '/'. The name that counts is the
  // final one: with a pax path, the ustar name is only a stand-in, which GNU tar cuts at 100
  // bytes — so a file's stand-in may end in '/' ('dir/' of 'dir/naïve.conf').
  if (merged.flag === '0' && merged.path.endsWith('/')) merged.flag = '5';
  // A directory has no body, whatever size an old tar put there.
  if (merged.flag === '5') merged.size = 0;
  return merged;
}

/**
 * pax records ("<length> <key>=<value>\n") into `into`. A global header ('g') never sets path
 * or linkpath: those are per member.
 */
export function parsePax(body: Buffer, into: ExtendedFields, global: boolean): ExtendedFields {
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(SPACE, offset);
    if (space < 0) break;
    const length = Number(body.toString('latin1', offset, space));
    if (!Number.isInteger(length) || length <= 0 || offset + length > body.length) break;
    const eqAt = body.indexOf(0x3d, space + 1); // '='
    const recordEnd = offset + length - 1; // without the final '\n'
    offset += length;
    if (eqAt < 0 || eqAt >= recordEnd) continue;
    const key = body.toString('latin1', space + 1, eqAt);
    // Names keep their bytes whether or not they are UTF-8 (hdrcharset=BINARY or not).
    const value = nameFromBytes(body, eqAt + 1, recordEnd);
    switch (key) {
      case 'path':
      case 'linkpath':
        if (!global) into[key] = value;
        break;
      case 'uname':
      case 'gname':
        into[key] = value;
        break;
      case 'size':
      case 'uid':
      case 'gid':
      case 'mode': {
        const n = Number(value);
        if (Number.isSafeInteger(n) && n >= 0) into[key] = n;
        break;
      }
      case 'mtime': {
        const seconds = Number(value);
        if (Number.isFinite(seconds)) into.mtime = new Date(seconds * 1000);
        break;
      }
    }
  }
  return into;
}

/** A GNU long name ('L') or long link ('K') body: a NUL-terminated string. */
export function parseLongName(body: Buffer): string {
  return readString(body, 0, body.length);
}

// ---------------------------------------------------------------- writing

const MAX_OCTAL: Record<number, number> = { 8: 0o7777777, 12: 0o77777777777 };

/** Writes `value` as zero-padded octal with a NUL; false when it does not fit (base-256 is written instead). */
function writeNumber(block: Buffer, offset: number, length: number, value: number): boolean {
  if (value >= 0 && value <= MAX_OCTAL[length]!) {
    writeOctal(block, offset, length - 1, value);
    block[offset + length - 1] = 0;
    return true;
  }
  // GNU base-256, which GNU tar, bsdtar and node-tar read; the pax header carries it too.
  let rest = value < 0 ? -value - 1 : value;
  for (let i = offset + length - 1; i > offset; i--) {
    const byte = rest % 256;
    block[i] = value < 0 ? ~byte & 0xff : byte;
    rest = Math.floor(rest / 256);
  }
  block[offset] = value < 0 ? 0xff : 0x80;
  return false;
}

/** Writes an ASCII string field; false when it is too long or not ASCII (the pax header carries it). */
function writeString(block: Buffer, offset: number, length: number, value: string): boolean {
  if (value.length <= length && isAscii(value)) {
    writeLatin1(block, offset, length, value);
    return true;
  }
  const written = block.write(value, offset, length, 'utf8');
  return written === value.length && Buffer.byteLength(value) === value.length;
}

/** Splits a path that is too long for the 100-byte name field at a '/' into ustar's prefix (155) and name. */
function splitPath(path: string): { prefix: string; name: string } | undefined {
  if (path.length <= 100) return { prefix: '', name: path };
  for (let slash = path.indexOf('/'); slash >= 0 && slash <= 155; slash = path.indexOf('/', slash + 1)) {
    if (path.length - slash - 1 <= 100) return slash > 0 ? { prefix: path.slice(0, slash), name: path.slice(slash + 1) } : undefined;
  }
  return undefined;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/*
 * Why loops instead of Buffer#write: a header has ~15 short fields, and Buffer#write's
 * encoding lookup costs more than the bytes (10,000 headers: ~240 → ~40 ms cold, ~20–60 →
 * ~10–14 ms warm; BENCHMARKS.md, "The local case").
 */

/** `value` (a non-negative integer that fits) as `digits` zero-padded octal digits. */
function writeOctal(block: Buffer, offset: number, digits: number, value: number): void {
  let rest = value;
  for (let i = offset + digits - 1; i >= offset; i--) {
    block[i] = 0x30 + (rest % 8);
    rest = Math.floor(rest / 8);
  }
}

/** Buffer#write(text, offset, max, 'latin1'): each char's low byte, at most `max`. */
function writeLatin1(block: Buffer, offset: number, max: number, text: string): void {
  const n = Math.min(max, text.length);
  for (let i = 0; i < n; i++) block[offset + i] = text.charCodeAt(i) & 0xff;
}

/** One ustar header block; `needsPax` when some field did not fit and a pax header must precede it. */
function ustarBlock(f: HeaderFields): { block: Buffer; needsPax: boolean } {
  const block = Buffer.allocUnsafe(TAR_BLOCK).fill(0); // from Node's small-buffer pool
  const split = isAscii(f.path) ? splitPath(f.path) : undefined;
  let fits = split !== undefined;
  if (split) {
    writeLatin1(block, 0, 100, split.name);
    writeLatin1(block, 345, 155, split.prefix);
  } else {
    // A readable stand-in; the pax path is the real one. Never a file's ending in '/': a reader
    // that applies old tars' "a file named 'x/' is a directory" before the pax path would take
    // the file for a directory and its body for headers.
    const standIn = f.path.slice(0, 99);
    writeLatin1(block, 0, 99, f.flag !== '5' && standIn.endsWith('/') ? `${standIn.slice(0, -1)}_` : standIn);
  }
  fits = writeNumber(block, 100, 8, f.mode ?? 0) && fits;
  fits = writeNumber(block, 108, 8, f.uid ?? 0) && fits;
  fits = writeNumber(block, 116, 8, f.gid ?? 0) && fits;
  fits = writeNumber(block, 124, 12, f.size) && fits;
  fits = writeNumber(block, 136, 12, Math.floor((f.mtime?.getTime() ?? 0) / 1000)) && fits;
  writeLatin1(block, 156, 1, f.flag);
  if (f.linkpath !== undefined) fits = writeString(block, 157, 100, f.linkpath) && fits;
  USTAR_MAGIC.copy(block, 257);
  fits = writeString(block, 265, 32, f.uname ?? '') && fits;
  fits = writeString(block, 297, 32, f.gname ?? '') && fits;
  writeNumber(block, 329, 8, 0); // devmajor
  writeNumber(block, 337, 8, 0); // devminor
  let sum = 8 * SPACE;
  for (let i = 0; i < TAR_BLOCK; i++) sum += block[i]!;
  writeOctal(block, 148, 6, sum);
  block[154] = 0;
  block[155] = SPACE;
  return { block, needsPax: !fits };
}

/** One pax record: its length counts its own digits. A name's value is its exact bytes. */
function paxRecord(key: string, value: string | number): Buffer {
  const rest = Buffer.concat([
    Buffer.from(` ${key}=`, 'latin1'),
    typeof value === 'string' ? nameToBytes(value) : Buffer.from(String(value)),
    Buffer.from('\n'),
  ]);
  const bytes = rest.length;
  let length = bytes + String(bytes).length;
  if (String(length).length !== String(bytes).length) length = bytes + String(length).length;
  return Buffer.concat([Buffer.from(String(length)), rest]);
}

/**
 * The header block(s) of one member: a ustar header, preceded by a pax extended header when a
 * field does not fit ustar (long or non-ASCII path, size >= 8 GiB, big uid...), as node-tar and
 * GNU tar do; every tar reads it.
 */
export function encodeHeader(f: HeaderFields): Buffer {
  const { block, needsPax } = ustarBlock(f);
  if (!needsPax && !f.sparse) return block;
  const records: Buffer[] = [];
  // A name that is not UTF-8 is written as its bytes, which pax allows when it says so (GNU tar
  // and bsdtar then extract exactly those bytes).
  if (hasEscapedBytes(f.path) || (f.linkpath !== undefined && hasEscapedBytes(f.linkpath))) records.push(paxRecord('hdrcharset', 'BINARY'));
  records.push(paxRecord('path', f.path));
  if (f.linkpath !== undefined) records.push(paxRecord('linkpath', f.linkpath));
  records.push(paxRecord('size', f.size));
  if (f.uid !== undefined) records.push(paxRecord('uid', f.uid));
  if (f.gid !== undefined) records.push(paxRecord('gid', f.gid));
  if (f.uname) records.push(paxRecord('uname', f.uname));
  if (f.gname) records.push(paxRecord('gname', f.gname));
  // Whole seconds, as in the ustar field: a member's time must not depend on whether its name
  // needed a pax header (docs/archive-format.md, "Times").
  if (f.mtime) records.push(paxRecord('mtime', Math.floor(f.mtime.getTime() / 1000)));
  if (f.sparse) {
    // GNU tar's own records for format 1.0 (its --sparse-version=1.0); the name is the real one
    // in `path` and `GNU.sparse.name` alike, so the order of the two never matters.
    records.push(paxRecord('GNU.sparse.major', 1), paxRecord('GNU.sparse.minor', 0));
    records.push(paxRecord('GNU.sparse.name', f.path), paxRecord('GNU.sparse.realsize', f.sparse.realSize));
  }
  const bodyBytes = Buffer.concat(records);
  const base = f.path.replace(/\/+$/, '');
  const pax = ustarBlock({
    path: `PaxHeader/${nameToBytes(base.slice(base.lastIndexOf('/') + 1))
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '_')}`.slice(0, 99),
    flag: 'x',
    size: bodyBytes.length,
    mode: 0o644,
    mtime: f.mtime,
  }).block;
  const padded = Buffer.alloc(Math.ceil(bodyBytes.length / TAR_BLOCK) * TAR_BLOCK);
  bodyBytes.copy(padded);
  return Buffer.concat([pax, padded, block]);
}
