/**
 * Headers as the archive writes them (engine/archive/tar/header.ts), read back by GNU tar and by
 * node-tar (what restore uses), including every case that needs base-256 numbers or a pax header.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHeader, encodeHeader, parsePax, TAR_BLOCK, withExtended, type HeaderFields } from '../../engine/archive/tar/header.js';
import { tempDir } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  dir = await tempDir('lsb-tarheader-');
});
afterAll(async () => dir?.cleanup());

const mtime = new Date('2024-05-06T07:08:09.500Z');
const base = { flag: '0', mode: 0o640, uid: 1000, gid: 1000, uname: 'app', gname: 'app', mtime };
const cases: [string, HeaderFields][] = [
  ['a short path', { ...base, path: 'pg/db-1/files/etc/postgresql/15/main/postgresql.conf', size: 5 }],
  ['a path split into ustar prefix and name', { ...base, path: `${'p'.repeat(80)}/${'q'.repeat(60)}/file.conf`, size: 5 }],
  ['a path longer than ustar can hold', { ...base, path: `${'x'.repeat(120)}/${'y'.repeat(120)}/${'z'.repeat(120)}.conf`, size: 5 }],
  ['a path that is not ASCII', { ...base, path: 'pg/db-1/naïve-名前.conf', size: 5 }],
  // The first 99 bytes, the ustar name's stand-in, end in '/': the member must stay a file.
  ['a long path that is not ASCII, its 99th byte a slash', { ...base, path: `${'d'.repeat(98)}/naïve-名前.conf`, size: 5 }],
  ['a path too long for ustar, its 99th byte a slash', { ...base, path: `${'a'.repeat(98)}/${'b'.repeat(160)}`, size: 5 }],
  ['a long symlink target', { ...base, flag: '2', path: 'pg/db-1/link', size: 0, linkpath: `../${'t'.repeat(150)}` }],
  ['a directory', { ...base, flag: '5', path: 'pg/db-1/conf.d/', mode: 0o750, size: 0 }],
  ['a big uid and gid', { ...base, path: 'pg/db-1/owned', uid: 3_000_000, gid: 4_000_000, size: 5 }],
  ['an owner name longer than 32 bytes', { ...base, path: 'pg/db-1/named', uname: 'u'.repeat(40), size: 5 }],
  ['an mtime before 1970', { ...base, path: 'pg/db-1/old', mtime: new Date('1960-01-01T00:00:00Z'), size: 5 }],
];

/** One member: its header(s), a 5-byte body for files, padding; then the end blocks. */
function archiveOf(fields: HeaderFields): Buffer {
  const body = fields.flag === '0' ? Buffer.concat([Buffer.from('hello'), Buffer.alloc(TAR_BLOCK - 5)]) : Buffer.alloc(0);
  return Buffer.concat([encodeHeader(fields), body, Buffer.alloc(2 * TAR_BLOCK)]);
}

function readByNodeTar(bytes: Buffer): Promise<ReadEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: ReadEntry[] = [];
    const parser = new Parser({ strict: true });
    parser.on('entry', (e: ReadEntry) => {
      entries.push(e);
      e.resume();
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(entries));
    parser.end(bytes);
  });
}

describe.each(cases)('%s', (_label, fields) => {
  it('is read back the same by GNU tar, node-tar and the collect parser', async () => {
    const bytes = archiveOf(fields);
    const file = join(dir.path, 'one.tar');
    writeFileSync(file, bytes);
    const listed = execFileSync('tar', ['--list', '--numeric-owner', '--verbose', '--file', file], { encoding: 'utf8' });
    expect(listed).toContain(fields.path.replace(/\/$/, ''));

    const [entry] = await readByNodeTar(bytes);
    expect(entry).toMatchObject({ path: fields.path, size: fields.size, uid: fields.uid, gid: fields.gid, uname: fields.uname, gname: fields.gname });
    expect(entry!.mode! & 0o7777).toBe(fields.mode);
    if (fields.linkpath) expect(entry!.linkpath).toBe(fields.linkpath);

    // decodeHeader + parsePax, as the collect parser reads a host's stream.
    let offset = 0;
    let extended;
    let header = decodeHeader(bytes.subarray(0, TAR_BLOCK));
    if (header !== 'end' && header.flag === 'x') {
      extended = parsePax(bytes.subarray(TAR_BLOCK, TAR_BLOCK + header.size), {}, false);
      offset = TAR_BLOCK * (1 + Math.ceil(header.size / TAR_BLOCK));
      header = decodeHeader(bytes.subarray(offset, offset + TAR_BLOCK));
    }
    expect(header).not.toBe('end');
    // Older readers (lsbackup before 2026-12-05 among them) take a file whose ustar name ends in '/' for a directory.
    if (fields.flag !== '5') expect(bytes.toString('latin1', offset, offset + 100).replace(/\0+$/, '')).not.toMatch(/\/$/);
    const read = withExtended(header as HeaderFields, extended);
    expect({ ...read, mtime: read.mtime?.getTime(), linkpath: read.linkpath || undefined }).toEqual({
      ...fields,
      // Whole seconds, with a pax header or without (the sample's time has a fraction).
      mtime: Math.floor(fields.mtime!.getTime() / 1000) * 1000,
      linkpath: fields.linkpath,
    });
  });
});

describe('a pax path after a stand-in that ends in a slash (as GNU tar writes a long name)', () => {
  it('is the file the pax path names, not a directory', () => {
    const path = `${'d'.repeat(98)}/naïve.conf`;
    const bytes = encodeHeader({ ...base, path, size: 5 });
    // Rewrite the ustar name as GNU tar would: the path's first 100 bytes, here ending in '/'.
    const ustar = Buffer.from(bytes.subarray(bytes.length - TAR_BLOCK));
    ustar.fill(0, 0, 100);
    ustar.write(`${'d'.repeat(98)}/`, 0, 'latin1');
    ustar.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of ustar) sum += byte;
    ustar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const pax = decodeHeader(bytes.subarray(0, TAR_BLOCK)) as HeaderFields;
    const extended = parsePax(bytes.subarray(TAR_BLOCK, TAR_BLOCK + pax.size), {}, false);
    const read = withExtended(decodeHeader(ustar) as HeaderFields, extended);
    expect(read).toMatchObject({ path, flag: '0', size: 5 });
  });

  it("an old tar's file named with a trailing slash is still a directory", () => {
    const read = withExtended(decodeHeader(encodeHeader({ ...base, path: 'pg/conf.d/', size: 0 })) as HeaderFields, undefined);
    expect(read).toMatchObject({ path: 'pg/conf.d/', flag: '5', size: 0 });
  });
});

describe('which headers need pax', () => {
  it('only what ustar cannot hold gets a pax header', () => {
    const needsPax = (fields: HeaderFields) => encodeHeader(fields).length > TAR_BLOCK;
    expect(needsPax(cases[0]![1])).toBe(false);
    expect(needsPax(cases[1]![1])).toBe(false); // prefix + name
    expect(needsPax(cases[2]![1])).toBe(true);
    expect(needsPax(cases[3]![1])).toBe(true);
    expect(needsPax({ ...base, path: 'huge.img', size: 9 * 1024 ** 3 })).toBe(true); // >= 8 GiB
  });

  it('a size of 8 GiB and more is exact in base-256 and in the pax header', () => {
    const size = 9 * 1024 ** 3 + 123;
    const bytes = encodeHeader({ ...base, path: 'huge.img', size });
    const pax = decodeHeader(bytes.subarray(0, TAR_BLOCK)) as HeaderFields;
    const header = decodeHeader(bytes.subarray(bytes.length - TAR_BLOCK)) as HeaderFields;
    expect(header.size).toBe(size);
    expect(parsePax(bytes.subarray(TAR_BLOCK, TAR_BLOCK + pax.size), {}, false).size).toBe(size);
  });
});
