/**
 * The collect path's tar parser against real tar streams (GNU tar in its posix, gnu and ustar
 * formats), read back independently by node-tar's Parser: the same members, fields and body
 * bytes whatever the chunk sizes. Plus the ways a host's stream goes wrong.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, symlink, utimes, writeFile, link } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TarStreamParser, type TarMember } from '../../engine/archive/tar/stream-parser.js';
import { tempDir } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
// 'tree/<long>' is > 100 bytes: ustar splits it into prefix + name, pax and GNU carry it whole.
const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
const longName = `${'f'.repeat(90)}.conf`;
// > 255 bytes: no ustar header can hold it (pax and GNU long names only).
const veryLongDir = `${'g'.repeat(100)}/${'h'.repeat(100)}/${'i'.repeat(100)}`;

beforeAll(async () => {
  dir = await tempDir('lsb-tarparse-');
  const root = join(dir.path, 'tree');
  await mkdir(join(root, longDir), { recursive: true });
  await writeFile(join(root, 'small.conf'), 'a = 1\n');
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'block-exact'), Buffer.alloc(1024, 7)); // no padding after the body
  await writeFile(join(root, 'big.bin'), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) % 251)));
  await writeFile(join(root, longDir, longName), 'deep\n');
  await mkdir(join(root, veryLongDir), { recursive: true });
  await writeFile(join(root, veryLongDir, 'deeper.conf'), 'deeper\n');
  await writeFile(join(root, 'naïve-名前.txt'), 'utf8 name\n');
  // 'tree/<94>/' is 100 bytes: GNU tar's ustar stand-in for this long name ends in '/'. The file
  // holds a tar, so a parser that took it for a directory would read members out of its body.
  await mkdir(join(root, 'e'.repeat(94)));
  await writeFile(join(root, 'e'.repeat(94), 'naïve-inner.tar'), execFileSync('tar', ['--create', '--file=-', '-C', root, 'small.conf']));
  await symlink('small.conf', join(root, 'link-short'));
  await symlink(`${'../'.repeat(2)}${'t'.repeat(110)}`, join(root, 'link-long'));
  await link(join(root, 'small.conf'), join(root, 'hard.conf'));
  await utimes(join(root, 'small.conf'), new Date('2021-03-04T05:06:07.250Z'), new Date('2021-03-04T05:06:07.250Z'));
});
afterAll(async () => dir?.cleanup());

/** A tar of the test tree, as `tar` writes it in `format`. */
function tarOf(format: string, extra: string[] = []): Buffer {
  return execFileSync('tar', ['--create', `--format=${format}`, ...extra, '--file=-', '-C', dir.path, 'tree'], { maxBuffer: 64 * 1024 * 1024 });
}

interface Seen {
  member: Omit<TarMember, 'flag'>;
  sha256: string;
}

/** Feeds `bytes` in pieces of the given sizes (cycled); a sink that sometimes makes the parser wait. */
async function parseWith(bytes: Buffer, sizes: number[], slow = false): Promise<Seen[]> {
  const seen: Seen[] = [];
  let hash = createHash('sha256');
  let current: TarMember | undefined;
  const later = () => new Promise<void>((resolve) => setImmediate(resolve));
  const parser = new TarStreamParser({
    member(m) {
      current = m;
      hash = createHash('sha256');
      return slow ? later() : undefined;
    },
    body(chunk) {
      hash.update(chunk);
      return slow && chunk.length % 3 === 0 ? later() : undefined;
    },
    memberEnd() {
      const { flag: _flag, ...member } = current!;
      seen.push({ member, sha256: hash.digest('hex') });
    },
  });
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    const waiting = parser.write(bytes.subarray(offset, offset + size));
    if (waiting) await waiting;
    offset += size;
  }
  parser.end();
  return seen;
}

/** The same stream read by node-tar, as the fields the collector uses. */
async function parseWithNodeTar(bytes: Buffer): Promise<Seen[]> {
  const seen: Seen[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({ strict: true });
    parser.on('entry', (e: ReadEntry) => {
      const hash = createHash('sha256');
      e.on('data', (c: Buffer) => hash.update(c));
      e.on('end', () =>
        seen.push({
          member: {
            type: e.type,
            path: e.path,
            linkpath: e.linkpath || undefined,
            size: e.size,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            uname: e.uname || undefined,
            gname: e.gname || undefined,
            mtime: e.mtime,
          },
          sha256: hash.digest('hex'),
        }),
      );
    });
    parser.on('error', reject);
    parser.on('end', resolve);
    parser.end(bytes);
  });
  return seen;
}

/** The fields both parsers must agree on (node-tar leaves uname empty for GNU-format headers). */
const comparable = (s: Seen[], withOwners: boolean) =>
  s.map(({ member: m, sha256 }) => ({
    type: m.type,
    path: m.path,
    linkpath: m.linkpath,
    size: m.size,
    mode: (m.mode ?? 0) & 0o7777,
    uid: m.uid,
    gid: m.gid,
    mtime: m.mtime?.getTime(),
    ...(withOwners ? { uname: m.uname, gname: m.gname } : {}),
    sha256,
  }));

describe.each([
  ['posix', true],
  ['gnu', false],
  ['ustar', true],
] as const)('a %s tar from GNU tar', (format, owners) => {
  // ustar cannot hold the longest link target or path: GNU tar refuses them, so that format skips them.
  const bytes = () => tarOf(format, format === 'ustar' ? ['--exclude=link-long', '--exclude=gggg*'] : []);

  it('reads every member as node-tar does, whatever the chunk sizes', async () => {
    const tar = bytes();
    const expected = comparable(await parseWithNodeTar(tar), owners);
    expect(expected.length).toBeGreaterThanOrEqual(9);
    for (const sizes of [[tar.length], [1, 7, 511], [512], [513, 4096], [32768, 65536, 3]]) {
      expect(comparable(await parseWith(tar, sizes), owners), `chunks ${sizes.join(',')}`).toEqual(expected);
    }
    expect(comparable(await parseWith(tar, [1000, 777], true), owners)).toEqual(expected); // a sink that makes it wait
  });

  it('keeps long names, links and the sub-second mtime', async () => {
    const members = (await parseWith(bytes(), [4096])).map((s) => s.member);
    const byName = (suffix: string) => members.find((m) => m.path.endsWith(suffix));
    expect(byName(`tree/${longDir}/${longName}`)?.size).toBe(5);
    if (format !== 'ustar') expect(byName(`tree/${veryLongDir}/deeper.conf`)?.size).toBe(7);
    expect(byName('link-short')).toMatchObject({ type: 'SymbolicLink', linkpath: 'small.conf' });
    // Whichever of the two names tar meets second is the link to the first.
    const pair = [byName('tree/hard.conf')!, byName('tree/small.conf')!];
    const hardlink = pair.find((m) => m.type === 'Link');
    expect(hardlink?.linkpath).toBe(pair.find((m) => m !== hardlink)?.path);
    if (format !== 'ustar') expect(byName('link-long')?.linkpath).toBe(`../../${'t'.repeat(110)}`);
    expect(byName('naïve-名前.txt')?.size).toBe(10);
    const small = pair.find((m) => m.type === 'File')!;
    expect(small.mtime?.getTime()).toBe(format === 'posix' ? Date.parse('2021-03-04T05:06:07.250Z') : Date.parse('2021-03-04T05:06:07Z'));
    if (owners) expect(small.uname).toBe(execFileSync('id', ['-un'], { encoding: 'utf8' }).trim());
  });
});

describe('a pax global header', () => {
  it('applies to every member after it; a member header of its own wins', async () => {
    const tar = tarOf('posix', ['--pax-option=uname=global-user,gname:=per-member-group']);
    const members = (await parseWith(tar, [512])).map((s) => s.member);
    expect(members.length).toBeGreaterThan(5);
    for (const m of members) expect({ uname: m.uname, gname: m.gname }).toEqual({ uname: 'global-user', gname: 'per-member-group' });
  });
});

describe('a stream that is not whole or not tar', () => {
  it('an empty stream is nothing, not an error', () => {
    const parser = new TarStreamParser({ member() {}, body() {}, memberEnd() {} });
    expect(() => parser.end()).not.toThrow();
  });

  it('a stream cut inside a member fails at the end, after handing on what arrived', async () => {
    const tar = tarOf('posix');
    const bigAt = tar.indexOf(Buffer.from('tree/big.bin'));
    await expect(parseWith(tar.subarray(0, bigAt + 4096), [1000])).rejects.toThrow(/ended in the middle of a member/);
  });

  it('a stream cut between members (no end-of-archive blocks) fails at the end', async () => {
    const tar = tarOf('posix');
    const members = await parseWith(tar, [tar.length]);
    // Find a member boundary: the start of a later pax header block.
    const boundary = tar.indexOf(Buffer.from('tree/PaxHeaders/small.conf'));
    expect(boundary % 512).toBe(0);
    await expect(parseWith(tar.subarray(0, boundary), [700])).rejects.toThrow(/without its end-of-archive blocks/);
    expect(members.length).toBeGreaterThan(0);
  });

  it('a damaged header (bad checksum) is refused', async () => {
    const tar = Buffer.from(tarOf('gnu'));
    // The first member is the directory 'tree/' (a header and no body): damage the name in the second header.
    expect(tar.toString('latin1', 0, 5)).toBe('tree/');
    tar[512 + 10] = tar[512 + 10]! ^ 0x55;
    await expect(parseWith(tar, [4096])).rejects.toThrow(/bad checksum/);
  });

  it('random bytes are not tar', async () => {
    const noise = createHash('sha512').update('noise').digest();
    await expect(parseWith(Buffer.concat(Array.from({ length: 20 }, () => noise)), [512])).rejects.toThrow(/bad checksum/);
  });

  it('what follows the end-of-archive blocks is ignored', async () => {
    const tar = tarOf('posix');
    const withTrailer = Buffer.concat([tar, Buffer.from('trailing garbage after the archive')]);
    expect(await parseWith(withTrailer, [333])).toEqual(await parseWith(tar, [333]));
  });
});
