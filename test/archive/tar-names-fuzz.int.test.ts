/**
 * The collect parser (engine/archive/tar/stream-parser.ts) against GNU tar on random names: long
 * ones (segments up to 120 bytes), non-ASCII, bytes that are not UTF-8 — every way a name can
 * need a pax or GNU long-name header and a ustar stand-in. Python's tarfile (python3 is a Debian
 * package) lists the same stream as the reference: the same members, types, names as bytes and
 * body sizes, in order. GNU tar cuts a long name's stand-in at 100 bytes, so some stand-ins end in
 * '/' (the generator makes that common); before 2026-12-05 this parser then took the file for a
 * directory, and every default seed failed. Seeded: LSB_TAR_FUZZ_SEED=<n> LSB_TAR_FUZZ_ROUNDS=<n>
 * for other or more rounds.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nameToBytes } from '../../engine/archive/name-bytes.js';
import { TarStreamParser, type TarMember } from '../../engine/archive/tar/stream-parser.js';
import { prng } from '../helpers/prng.js';
import { tempDirPerTest } from './helpers.js';

const SEED = Number(process.env.LSB_TAR_FUZZ_SEED ?? 20261205);
const ROUNDS = Number(process.env.LSB_TAR_FUZZ_ROUNDS ?? 8);

const PIECES = [Buffer.from('a'), Buffer.from('é'), Buffer.from('名'), Buffer.from([0x78, 0xff]), Buffer.from(' '), Buffer.from('-')];

/** Python's view of a tar stream: "<type> <name bytes, hex, no trailing '/'> <body size>" per member. */
const PYTHON_LIST = `
import sys, tarfile, json
kinds = {tarfile.REGTYPE: 'File', tarfile.AREGTYPE: 'File', tarfile.DIRTYPE: 'Directory', tarfile.SYMTYPE: 'SymbolicLink', tarfile.LNKTYPE: 'Link'}
out = []
for m in tarfile.open(fileobj=sys.stdin.buffer, mode='r|'):
    kind = kinds.get(m.type, repr(m.type))
    out.append('%s %s %d' % (kind, m.name.encode('utf-8', 'surrogateescape').rstrip(b'/').hex(), m.size if kind == 'File' else 0))
print(json.dumps(out))
`;

/** The parser's view of the same stream, in the same form. */
async function parsed(tar: Buffer): Promise<string[]> {
  const out: string[] = [];
  let member: TarMember | undefined;
  let size = 0;
  const parser = new TarStreamParser({
    member(m) {
      member = m;
      size = 0;
    },
    body(chunk) {
      size += chunk.length;
    },
    memberEnd() {
      const name = nameToBytes(member!.path)
        .toString('hex')
        .replace(/(2f)+$/, '');
      out.push(`${member!.type} ${name} ${size}`);
    },
  });
  await parser.write(tar);
  parser.end();
  return out;
}

/** A name segment of `length` bytes from the pieces, never '/' or NUL. */
function segment(next: () => number, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let n = 0; n < length;) {
    const piece = PIECES[Math.floor(next() * PIECES.length)]!;
    parts.push(piece);
    n += piece.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

describe('GNU tar streams with random long and non-UTF-8 names', () => {
  const dir = tempDirPerTest();

  it.each(Array.from({ length: ROUNDS }, (_, i) => SEED + i))('read like Python reads them, seed %i', async (seed) => {
    const next = prng(seed);
    const root = join(dir.path, 'r');
    for (let i = 0; i < 20; i++) {
      const depth = 1 + Math.floor(next() * 4);
      const segments = Array.from({ length: depth }, () => segment(next, 1 + Math.floor(next() * (next() < 0.5 ? 40 : 120))));
      // 't/' + 97 bytes + '/': GNU tar's 100-byte stand-in ends in '/' (often enough to matter).
      if (depth > 1 && next() < 0.3) segments[0] = segment(next, 97);
      const path = Buffer.concat([Buffer.from(`${root}/t/`), ...segments.flatMap((s, k) => (k ? [Buffer.from('/'), s] : [s]))]);
      try {
        mkdirSync(path.subarray(0, path.lastIndexOf(0x2f)), { recursive: true });
        writeFileSync(path, `body ${i}\n`.repeat(i));
      } catch {
        // The name is already a directory (or a file stands where a directory should): skip it.
      }
    }
    for (const format of ['posix', 'gnu']) {
      const tar = execFileSync('tar', ['--create', `--format=${format}`, '--file=-', '-C', root, 't'], { maxBuffer: 64 * 1024 * 1024 });
      const reference = JSON.parse(execFileSync('python3', ['-c', PYTHON_LIST], { input: tar, maxBuffer: 64 * 1024 * 1024 }).toString()) as string[];
      expect(await parsed(tar), `seed ${seed}, --format=${format}`).toEqual(reference);
    }
  });
});
