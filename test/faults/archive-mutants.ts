/**
 * Seeded mutations of a stored backup for the verify/restore agreement test: byte-level damage to
 * the stored object (flip, truncate, append), tar or zip members dropped, duplicated or swapped,
 * metadata.json fields edited (inside the archive, in its sidecar, or both), `.sha256` sidecars
 * rewritten to match or not, chain members removed. Encrypted objects are decrypted with `age`,
 * changed and encrypted again, so the damage lands inside the encryption.
 *
 * Every mutation works on the files of one target directory (a copy) and returns what it did, in
 * words that reproduce it with the seed.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';

export type Rng = () => number;

export interface Age {
  identity: string;
  recipient: string;
}

/** One stored backup of a target directory: its object and sidecars, by absolute path. */
export interface StoredBackup {
  /** The stored object (`….tar.gz`, `….tar.zst.age`, …). */
  object: string;
  format: 'tar.gz' | 'tar.zst' | 'zip';
  age?: Age;
}

export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
export const int = (rng: Rng, below: number) => Math.floor(rng() * below);
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function decrypt(b: StoredBackup, bytes: Buffer): Promise<Buffer> {
  if (!b.age) return bytes;
  return Buffer.from((await execa('age', ['-d', '-i', b.age.identity], { input: bytes, encoding: 'buffer' })).stdout);
}
export async function encrypt(b: StoredBackup, bytes: Buffer): Promise<Buffer> {
  if (!b.age) return bytes;
  return Buffer.from((await execa('age', ['-r', b.age.recipient], { input: bytes, encoding: 'buffer' })).stdout);
}

export async function decompress(format: StoredBackup['format'], bytes: Buffer): Promise<Buffer> {
  if (format === 'tar.gz') return gunzipSync(bytes);
  return Buffer.from((await execa('zstd', ['-d', '-q', '-c'], { input: bytes, encoding: 'buffer' })).stdout);
}
export async function compress(format: StoredBackup['format'], tar: Buffer): Promise<Buffer> {
  if (format === 'tar.gz') return gzipSync(tar);
  return Buffer.from((await execa('zstd', ['-q', '-c'], { input: tar, encoding: 'buffer' })).stdout);
}

/** Writes the stored object's `.sha256` sidecar so that it matches the object as it is now. */
export async function matchSidecar(object: string): Promise<void> {
  const name = object.slice(object.lastIndexOf('/') + 1);
  await writeFile(`${object}.sha256`, `${sha256(await readFile(object))}  ${name}\n`);
}

// ---------------------------------------------------------------------------------------------
// Tar members: a header block (with the pax/GNU long-name headers before it) and its data blocks.

const BLOCK = 512;

function tarSize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if (field[0]! & 0x80) return Number(field.readBigUInt64BE(4));
  return parseInt(field.toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
}

export interface TarMember {
  name: string;
  bytes: Buffer;
}

/** The members of a tar in order, and what follows the last one (the end blocks, padding). */
export function splitTar(tar: Buffer): { members: TarMember[]; tail: Buffer } {
  const members: TarMember[] = [];
  let at = 0;
  let start = 0;
  while (at + BLOCK <= tar.length) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((x) => x === 0)) break;
    const type = String.fromCharCode(header[156]!);
    const end = at + BLOCK + Math.ceil(tarSize(header) / BLOCK) * BLOCK;
    at = end;
    // A pax or GNU long-name header belongs to the member after it.
    if ('xgLK'.includes(type)) continue;
    members.push({ name: header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, ''), bytes: tar.subarray(start, end) });
    start = end;
  }
  return { members, tail: tar.subarray(start) };
}

export const joinTar = (members: TarMember[], tail: Buffer) => Buffer.concat([...members.map((m) => m.bytes), tail]);

/** Where a member's own header block starts (after its pax/long-name headers). */
function headerAt(m: TarMember): number {
  return m.bytes.length - Math.ceil(tarSize(lastHeader(m)) / BLOCK) * BLOCK - BLOCK;
}

function lastHeader(m: TarMember): Buffer {
  let at = 0;
  for (;;) {
    const header = m.bytes.subarray(at, at + BLOCK);
    const next = at + BLOCK + Math.ceil(tarSize(header) / BLOCK) * BLOCK;
    if (next >= m.bytes.length) return header;
    at = next;
  }
}

/** A member holding `body` under the header of `m` (size and checksum rewritten). */
function withBody(m: TarMember, body: Buffer): TarMember {
  const at = headerAt(m);
  const header = Buffer.from(m.bytes.subarray(at, at + BLOCK));
  header.write(body.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of header) sum += x;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const padded = Buffer.alloc(Math.ceil(body.length / BLOCK) * BLOCK);
  body.copy(padded);
  return { name: m.name, bytes: Buffer.concat([m.bytes.subarray(0, at), header, padded]) };
}

function bodyOf(m: TarMember): Buffer {
  const start = headerAt(m) + BLOCK;
  return m.bytes.subarray(start, start + tarSize(lastHeader(m)));
}

// ---------------------------------------------------------------------------------------------
// metadata.json edits.

export type Json = Record<string, unknown>;
interface MetaEntry extends Json {
  path: string;
  type: string;
}

/** A seeded change to one field of a backup's metadata; its description, or undefined when it has nothing to change. */
export function editMetadata(rng: Rng, meta: Json): string | undefined {
  const entries = (meta.entries as MetaEntry[]).filter((e) => !e.path.startsWith('lsbackup/'));
  const e = pick(rng, entries);
  const others = entries.filter((o) => o !== e);
  const field = pick(rng, [
    'size',
    'sha256',
    'type',
    'path',
    'mode',
    'linkpath',
    'drop-entry',
    'dup-entry',
    'components',
    'hosts',
    'base',
    'ref',
    'kind',
    'format',
  ] as const);
  switch (field) {
    case 'size':
      e.size = pick(rng, [0, (e.size as number) + 1, Math.max(0, (e.size as number) - 1), int(rng, 100_000)]);
      return `entry ${e.path}: size ${e.size}`;
    case 'sha256':
      e.sha256 = createHash('sha256').update(String(rng())).digest('hex');
      return `entry ${e.path}: sha256 changed`;
    case 'type':
      e.type = pick(
        rng,
        ['file', 'directory', 'symlink', 'hardlink'].filter((t) => t !== e.type),
      );
      return `entry ${e.path}: type ${e.type}`;
    case 'path': {
      const to = pick(rng, [others.length ? pick(rng, others).path : `${e.path}x`, `${e.path}.moved`, e.path.replace(/\/[^/]*$/, '/../x')]);
      const was = e.path;
      e.path = to;
      return `entry ${was}: path ${to}`;
    }
    case 'mode':
      e.mode = pick(rng, [0o4755, 0o777, 0, 0o100644, int(rng, 0o10000)]);
      return `entry ${e.path}: mode ${(e.mode as number).toString(8)}`;
    case 'linkpath':
      e.linkpath = pick(rng, [others.length ? pick(rng, others).path : 'x', '../../../../etc/passwd', '/etc/passwd', 'elsewhere']);
      return `entry ${e.path}: linkpath ${e.linkpath}`;
    case 'drop-entry':
      meta.entries = (meta.entries as MetaEntry[]).filter((o) => o !== e);
      return `entry ${e.path}: dropped from metadata`;
    case 'dup-entry':
      (meta.entries as MetaEntry[]).push({ ...e });
      return `entry ${e.path}: listed twice`;
    case 'components': {
      const components = meta.components as Json[];
      if (rng() < 0.5) {
        meta.components = [];
        return 'components: emptied';
      }
      components[0]!.name = 'other';
      return 'components: app renamed other';
    }
    case 'hosts': {
      const hosts = meta.hosts as Json[];
      if (rng() < 0.5) {
        meta.hosts = [];
        return 'hosts: emptied';
      }
      hosts[0]!.name = 'elsewhere';
      return 'hosts: localhost renamed elsewhere';
    }
    case 'base': {
      const base = meta.base as Json | undefined;
      if (!base) return undefined;
      const key = pick(rng, ['sha256', 'archive', 'backupId', 'chain'] as const);
      if (key === 'sha256') base.sha256 = createHash('sha256').update(String(rng())).digest('hex');
      if (key === 'archive') base.archive = `${base.archive as string}.gone`;
      if (key === 'backupId') base.backupId = '00000000-0000-4000-8000-000000000000';
      if (key === 'chain') base.chain = [];
      return `base.${key} changed`;
    }
    case 'ref': {
      const refs = (meta.entries as MetaEntry[]).filter((o) => typeof o.ref === 'string');
      if (refs.length === 0) return undefined;
      const r = pick(rng, refs);
      if (rng() < 0.5) {
        r.ref = '00000000-0000-4000-8000-000000000000';
        return `entry ${r.path}: ref to an unknown backup`;
      }
      delete r.ref;
      return `entry ${r.path}: ref removed`;
    }
    case 'kind':
      meta.kind = meta.kind === 'full' ? 'incremental' : 'full';
      return `kind ${meta.kind as string}`;
    case 'format':
      (meta.archive as Json).format = pick(rng, ['tar.gz', 'tar.zst', 'zip']);
      return `archive.format ${(meta.archive as Json).format as string}`;
  }
}

export const metadataSidecarOf = (b: StoredBackup) => (b.age ? `${b.object}.metadata.json.age` : `${b.object}.metadata.json`);

// ---------------------------------------------------------------------------------------------
// Zip members, rewritten by Python's zipfile: each member's record (name, mode, time, method) as
// it was, in the order given; a member's body is its data.

const ZIP_READ = `import sys, json, zipfile, base64
z = zipfile.ZipFile(sys.argv[1])
print(json.dumps([[i.filename, base64.b64encode(z.read(i)).decode()] for i in z.infolist()]))`;
const ZIP_WRITE = `import sys, json, zipfile, base64, warnings, copy
warnings.simplefilter('ignore')  # a duplicated name is the point
infos = zipfile.ZipFile(sys.argv[1]).infolist()
with zipfile.ZipFile(sys.argv[2], 'w') as out:
    for i, body in json.load(sys.stdin):
        out.writestr(copy.copy(infos[i]), base64.b64decode(body))`;

async function zipMembers(file: string): Promise<TarMember[]> {
  const listed = JSON.parse((await execa('python3', ['-c', ZIP_READ, file])).stdout) as [string, string][];
  return listed.map(([name, body]) => ({ name, bytes: Buffer.from(body, 'base64') }));
}

/** Writes `members` (of `original`, moved, repeated or left out, a body changed) over `file`, each under the record of the original member of its name. */
async function writeZip(file: string, original: TarMember[], members: TarMember[]): Promise<void> {
  const spec = members.map((m) => [original.findIndex((o) => o.name === m.name), m.bytes.toString('base64')]);
  await execa('python3', ['-c', ZIP_WRITE, file, `${file}.rewritten`], { input: JSON.stringify(spec) });
  await rename(`${file}.rewritten`, file);
}

/** A member's body, and a member holding another body, in `format`'s terms. */
const bodyIn = (format: StoredBackup['format'], m: TarMember) => (format === 'zip' ? m.bytes : bodyOf(m));
const withBodyIn = (format: StoredBackup['format'], m: TarMember, body: Buffer) => (format === 'zip' ? { name: m.name, bytes: body } : withBody(m, body));

/** The members of `victim` (a zip's, or a tar's) changed by `change` (undefined: nothing to change), stored again with its `.sha256` to match. */
export async function rewriteMembers(
  victim: StoredBackup,
  change: (tar: { members: TarMember[]; tail: Buffer }) => string | undefined,
): Promise<string | undefined> {
  if (victim.format === 'zip') {
    if (victim.age) return undefined;
    const original = await zipMembers(victim.object);
    const members = [...original];
    const said = change({ members, tail: Buffer.alloc(0) });
    if (said === undefined) return undefined;
    await writeZip(victim.object, original, members);
    await matchSidecar(victim.object);
    return `${said}; .sha256 rewritten to match`;
  }
  const tar = splitTar(await decompress(victim.format, await decrypt(victim, await readFile(victim.object))));
  const said = change(tar);
  if (said === undefined) return undefined;
  await writeFile(victim.object, await encrypt(victim, await compress(victim.format, joinTar(tar.members, tar.tail))));
  await matchSidecar(victim.object);
  return `${said}; .sha256 rewritten to match`;
}

/** The archive's metadata.json edited by `edit` (its `.sha256` rewritten to match), and with `sidecar` the `.metadata.json` sidecar the same. */
export async function rewriteMetadata(victim: StoredBackup, edit: (meta: Json) => string | undefined, sidecar: boolean): Promise<string | undefined> {
  let edited: Json | undefined;
  const said = await rewriteMembers(victim, ({ members }) => {
    const i = members.findIndex((m) => m.name === 'metadata.json');
    const meta = JSON.parse(bodyIn(victim.format, members[i]!).toString('utf8')) as Json;
    const what = edit(meta);
    if (what === undefined) return undefined;
    members[i] = withBodyIn(victim.format, members[i]!, Buffer.from(JSON.stringify(meta, null, 2)));
    edited = meta;
    return `metadata.json in the archive: ${what}`;
  });
  if (said === undefined || !sidecar) return said;
  await writeFile(metadataSidecarOf(victim), await encrypt(victim, Buffer.from(JSON.stringify(edited, null, 2))));
  return `${said}; the .metadata.json sidecar the same`;
}

// ---------------------------------------------------------------------------------------------
// The mutations.

export const MUTATIONS = [
  'flip',
  'truncate',
  'append',
  'tar-drop',
  'tar-duplicate',
  'tar-swap',
  'metadata-inside',
  'metadata-both',
  'metadata-sidecar',
  'chain-remove',
  'chain-base-sidecar',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/**
 * Applies `mutation` to `victim` (one member of `chain`, the backups of the copied target, oldest
 * first). Returns what it did, or undefined when it does not apply to this backup (member
 * mutations of an encrypted zip, chain mutations of a lone backup).
 */
export async function mutate(rng: Rng, mutation: Mutation, victim: StoredBackup, chain: StoredBackup[]): Promise<string | undefined> {
  const tarLevel = (change: (tar: { members: TarMember[]; tail: Buffer }) => string | undefined) => rewriteMembers(victim, change);
  const sidecarChoice = async (): Promise<string> => {
    if (rng() < 0.5) return '.sha256 kept';
    await matchSidecar(victim.object);
    return '.sha256 rewritten to match';
  };
  /** Byte damage: inside the encryption (the plaintext re-encrypted) half the time for an encrypted object. */
  const bytes = async (change: (b: Buffer) => [Buffer, string]): Promise<string> => {
    const inside = victim.age !== undefined && rng() < 0.5;
    const stored = await readFile(victim.object);
    const [changed, said] = change(inside ? await decrypt(victim, stored) : stored);
    await writeFile(victim.object, inside ? await encrypt(victim, changed) : changed);
    return `${said}${inside ? ' (inside the encryption)' : ''}; ${await sidecarChoice()}`;
  };
  const sidecarMetadata = metadataSidecarOf(victim);
  const editSidecarMetadata = async (edit: (meta: Json) => string | undefined) => {
    const meta = JSON.parse((await decrypt(victim, await readFile(sidecarMetadata))).toString('utf8')) as Json;
    const said = edit(meta);
    if (said !== undefined) await writeFile(sidecarMetadata, await encrypt(victim, Buffer.from(JSON.stringify(meta, null, 2))));
    return said;
  };

  switch (mutation) {
    case 'flip':
      return bytes((b) => {
        const at = int(rng, b.length);
        const c = Buffer.from(b);
        c[at]! ^= 1 << int(rng, 8);
        return [c, `byte ${at} of ${b.length} flipped`];
      });
    case 'truncate':
      return bytes((b) => {
        const at = int(rng, b.length);
        return [b.subarray(0, at), `truncated at ${at} of ${b.length}`];
      });
    case 'append':
      return bytes((b) => {
        const extra = rng() < 0.5 ? Buffer.alloc(1 + int(rng, 2048)) : Buffer.from(Array.from({ length: 1 + int(rng, 2048) }, () => int(rng, 256)));
        return [Buffer.concat([b, extra]), `${extra.length} ${extra.every((x) => x === 0) ? 'zero' : 'random'} bytes appended`];
      });
    case 'tar-drop':
      return tarLevel(({ members }) => {
        const i = int(rng, members.length);
        return `member ${members.splice(i, 1)[0]!.name} dropped`;
      });
    case 'tar-duplicate':
      return tarLevel(({ members }) => {
        const i = int(rng, members.length);
        const at = int(rng, members.length + 1);
        members.splice(at, 0, members[i]!);
        return `member ${members[i]!.name} duplicated at ${at}`;
      });
    case 'tar-swap':
      return tarLevel(({ members }) => {
        const i = int(rng, members.length);
        const j = int(rng, members.length);
        if (i === j) return undefined;
        [members[i], members[j]] = [members[j]!, members[i]!];
        return `members ${members[j]!.name} and ${members[i]!.name} swapped`;
      });
    case 'metadata-inside':
    case 'metadata-both':
      return rewriteMetadata(victim, (meta) => editMetadata(rng, meta), mutation === 'metadata-both');
    case 'metadata-sidecar': {
      const said = await editSidecarMetadata((meta) => editMetadata(rng, meta));
      return said === undefined ? undefined : `the .metadata.json sidecar only: ${said}`;
    }
    case 'chain-remove': {
      if (victim === chain[chain.length - 1]) return undefined;
      for (const f of [victim.object, `${victim.object}.sha256`, sidecarMetadata]) await rm(f, { force: true });
      return 'removed from the target';
    }
    case 'chain-base-sidecar': {
      if (victim === chain[chain.length - 1]) return undefined;
      if (rng() < 0.5) {
        await writeFile(`${victim.object}.sha256`, `${'0'.repeat(64)}  ${victim.object.slice(victim.object.lastIndexOf('/') + 1)}\n`);
        return 'its .sha256 sidecar holds another digest';
      }
      await rm(`${victim.object}.sha256`);
      return 'its .sha256 sidecar removed';
    }
  }
}
