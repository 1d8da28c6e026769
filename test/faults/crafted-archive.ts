/**
 * Crafted archives for the safe-restore tests: raw tar headers written with node-tar's Header
 * (which, unlike its packer, keeps '..' and absolute paths as given), bodies padded to 512
 * bytes, gzip. metadata.json is rebuilt with matching size/sha256 for every entry, so an
 * archive differs from a valid one only by the attack.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { recipeYaml } from '../helpers/cli.js';

export interface RawEntry {
  path: string;
  /** node-tar type names: File, Directory, SymbolicLink, Link, CharacterDevice, BlockDevice, FIFO. */
  type: string;
  body?: Buffer;
  linkpath?: string;
  mode?: number;
}

const BLOCK = 512;

/** The 'app' recipe the crafted archives carry: its restore pre-step touches `markerFile`, so a test sees whether it ran. */
export const markerRecipe = (version: string, markerFile: string) =>
  recipeYaml(
    'app',
    `hosts: { group: app }
detect: "true"
backup:
  snapshot:
    - run: echo hello
      output: hello.txt
restore:
  pre:
    - run: touch ${markerFile}
  apply:
    - run: cat > /dev/null
      input: hello.txt
`,
    version,
  );

export function tarBytes(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body ?? Buffer.alloc(0);
    const header = new Header({
      path: e.path,
      type: e.type as never,
      size: e.type === 'File' ? body.length : 0,
      mode: e.mode ?? (e.type === 'Directory' ? 0o700 : 0o600),
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      linkpath: e.linkpath ?? '',
      devmaj: 1,
      devmin: 3,
    });
    const block = Buffer.alloc(BLOCK);
    header.encode(block, 0);
    parts.push(block);
    if (e.type === 'File' && body.length > 0) {
      parts.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** Every entry of a .tar.gz, bodies in memory (small test archives only). */
export async function readEntries(gz: Buffer): Promise<RawEntry[]> {
  const entries: RawEntry[] = [];
  const parser = new Parser();
  parser.on('entry', (e: ReadEntry) => {
    const chunks: Buffer[] = [];
    e.on('data', (c: Buffer) => chunks.push(c));
    e.on('end', () =>
      entries.push({ path: e.path.replace(/\/+$/, ''), type: e.type, body: Buffer.concat(chunks), linkpath: e.linkpath || undefined, mode: e.mode }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(gunzipSync(gz));
  });
  return entries;
}

const RECORD_TYPES: Record<string, string> = { File: 'file', Directory: 'directory', SymbolicLink: 'symlink', Link: 'hardlink' };

/**
 * A .tar.gz of `entries` followed by metadata.json: the original metadata with its entry list
 * rewritten to describe exactly these entries (sizes and sha256 match).
 */
export function withMetadata(
  entries: RawEntry[],
  metadata: Record<string, unknown>,
  /** Changes the records after they were computed (a tampered metadata.json). */
  tamper: (records: Record<string, unknown>[]) => void = () => {},
  /** A `metadata.json.sig` entry to put just before metadata.json (signed backups; not listed in it). */
  signature?: Buffer,
): Buffer {
  const records: Record<string, unknown>[] = entries.map((e) => {
    const body = e.body ?? Buffer.alloc(0);
    const type = RECORD_TYPES[e.type] ?? e.type;
    return {
      path: e.path,
      type,
      size: e.type === 'File' ? body.length : 0,
      ...(e.type === 'File' ? { sha256: createHash('sha256').update(body).digest('hex') } : {}),
      mode: e.mode ?? 0o600,
      mtime: new Date(0).toISOString(),
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    };
  });
  tamper(records);
  const meta = Buffer.from(JSON.stringify({ ...metadata, entries: records }, null, 2));
  const sig: RawEntry[] = signature ? [{ path: 'metadata.json.sig', type: 'File', body: signature }] : [];
  return gzipSync(tarBytes([...entries, ...sig, { path: 'metadata.json', type: 'File', body: meta }]));
}
