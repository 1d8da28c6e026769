/** Reading one stored object back: whole (small sidecars) or as a stream, decrypting `.age` objects. */
import { once } from 'node:events';
import { Transform, type Readable } from 'node:stream';
import { createMeter } from '../archive/meter.js';
import { pipeHoldingFailure } from '../archive/held-failure.js';
import { brokenReadOf, targetRead } from '../archive/broken-read.js';
import { AGE_SUFFIX, sidecarNames } from '../archive/index.js';
import { STORED_SIZE_LINE } from '../archive/names.js';
import { loadAge } from '../crypto/load-age.js';
import { LsError } from '../errors.js';
import { damagedSidecar } from './stored-digest.js';
import type { Target } from '../../targets/types.js';

/** Identities for `.age` objects; absent means "no key given". */
export interface DecryptOptions {
  identities?: string[];
}

export const isEncrypted = (name: string) => name.endsWith(AGE_SUFFIX);

/**
 * The stored bytes of `name`, decrypted when it is an age file and an identity is known.
 * `count` is told the size of each stored chunk as it is read (live progress against the stored size),
 * and the chunk (a digest of the stored bytes).
 */
export async function openObject(target: Target, name: string, options: DecryptOptions, count?: StoredChunks): Promise<Readable> {
  const stored = await fromTarget(target, name, count);
  return isEncrypted(name) ? decrypted(stored, name, options) : stored;
}

/** The stored bytes of `name` as its target gives them, each chunk told to `count`; a failure of the read is a broken read (archive/broken-read.ts). */
export async function fromTarget(target: Target, name: string, count?: StoredChunks): Promise<Readable> {
  return counted(await targetRead(target.get(name)), count);
}

/** Told each stored chunk as it is read: its size, and the bytes. */
export type StoredChunks = (bytes: number, chunk: Buffer) => void;

/** `stored` with each chunk told to `count` on the way; closing it closes `stored` too. */
export function counted(stored: Readable, count?: StoredChunks): Readable {
  if (!count) return stored;
  const tally = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      count(chunk.length, chunk);
      callback(null, chunk);
    },
  });
  tally.on('close', () => stored.destroy()); // a reader that stops early releases the object
  return pipeHoldingFailure(stored, tally);
}

/** Pass an age stream through decryption; ECRYPTO when no identity was given. */
export async function decrypted(stored: Readable, name: string, options: DecryptOptions): Promise<Readable> {
  if (!options.identities?.length) {
    stored.destroy();
    throw new LsError('ECRYPTO', { message: `${name} is encrypted; pass --identity <age identity file> (or set encryption.identityFile in the config)` });
  }
  const plain = (await loadAge()).decryptStream(options.identities);
  plain.on('close', () => stored.destroy()); // a reader that stops early releases the object
  return pipeHoldingFailure(stored, plain);
}

/**
 * `consume` run on the stored bytes of `name`, and their size and sha256 (verify's and the
 * incremental base check's one read). When it stops before their end (a damaged archive, a read
 * that broke off), the object is read again for the digest; when that read breaks off too, the
 * digest is unknown (empty) and `digestRead` says why.
 */
export async function readStored<T>(
  target: Target,
  name: string,
  consume: (stored: Readable) => Promise<T>,
  count?: StoredChunks,
): Promise<{ result: T; bytes: number; sha256: string; digestRead?: Error }> {
  const first = await measured(await fromTarget(target, name, count), consume);
  if (first.complete) return first;
  try {
    return { ...(await measured(await fromTarget(target, name), async (s) => void (s.resume(), await once(s, 'end')))), result: first.result };
  } catch (e) {
    const broken = brokenReadOf(e);
    if (!broken) throw e;
    return { result: first.result, bytes: first.bytes, sha256: '', digestRead: broken };
  }
}

/** Run `consume` on the stream while hashing every byte that passes; `complete` says whether it reached the end. */
async function measured<T>(stored: Readable, consume: (s: Readable) => Promise<T>): Promise<{ result: T; bytes: number; sha256: string; complete: boolean }> {
  const meter = createMeter();
  let complete = false;
  meter.on('end', () => (complete = true));
  const result = await consume(pipeHoldingFailure(stored, meter));
  if (!complete) {
    meter.destroy();
    stored.destroy();
  }
  return { result, bytes: meter.bytes(), sha256: complete ? meter.sha256() : '', complete };
}

/** A small object (a sidecar) as text. */
export async function readText(target: Target, name: string, options: DecryptOptions, count?: StoredChunks): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await openObject(target, name, options, count)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The digest the `.sha256` sidecar records for the stored archive `name` (its ciphertext when
 * encrypted); undefined when there is no sidecar, EARCHIVE when it records none (damaged).
 */
export async function storedSha256(target: Target, name: string): Promise<string | undefined> {
  const recorded = await recordedDigests(target, name);
  if (recorded && !recorded.archive) throw new LsError('EARCHIVE', { archive: name, message: recorded.damaged });
  return recorded?.archive;
}

/**
 * What the `.sha256` sidecar of archive `name` records, in `sha256sum` lines: the digest of the
 * stored archive (its first line), and of the metadata sidecar as stored (`metadataSidecar`: the
 * object it names; absent in backups made before lsbackup recorded it), and the archive's stored
 * size (`storedSize`, its `# size` line; absent likewise). Undefined: no sidecar; `damaged`: its first line is no sha256.
 */
export async function recordedDigests(
  target: Target,
  name: string,
): Promise<{ archive?: string; damaged?: string; metadataSidecar?: { name: string; sha256: string }; storedSize?: number } | undefined> {
  const sidecar = sidecarNames(name, false).sha256;
  if (!(await target.stat(sidecar))) return undefined;
  const text = (await readText(target, sidecar, {})).trim();
  // Hex in either case, as `sha256sum -c` takes it (PowerShell's Get-FileHash writes capitals); compared lower-cased, as lsbackup writes it.
  const archive = /^([0-9a-f]{64})\b/i.exec(text)?.[1]?.toLowerCase();
  if (!archive) return { damaged: damagedSidecar(sidecar, text.split('\n')[0]!) };
  const lines = text.split('\n').map((line) => line.trim());
  const metadataNames = [sidecarNames(name, false).metadata, sidecarNames(name, true).metadata];
  const metadata = lines.map((line) => /^([0-9a-f]{64}) [ *](.+)$/i.exec(line)).find((m) => m && metadataNames.includes(m[2]!));
  const size = lines.find((line) => line.startsWith(`${STORED_SIZE_LINE} `) && line.endsWith(` ${name}`));
  const digits = size?.slice(STORED_SIZE_LINE.length + 1, size.length - name.length - 1) ?? '';
  return {
    archive,
    ...(metadata ? { metadataSidecar: { name: metadata[2]!, sha256: metadata[1]!.toLowerCase() } } : {}),
    ...(/^\d{1,15}$/.test(digits) ? { storedSize: Number(digits) } : {}),
  };
}
