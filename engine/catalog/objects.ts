/** Reading one stored object back: whole (small sidecars) or as a stream, decrypting `.age` objects. */
import { Transform, type Readable } from 'node:stream';
import { AGE_SUFFIX, sidecarNames } from '../archive/index.js';
import { loadAge } from '../crypto/load-age.js';
import { LsError } from '../errors.js';
import type { Target } from '../../targets/types.js';

/** Identities for `.age` objects; absent means "no key given". */
export interface DecryptOptions {
  identities?: string[];
}

export const isEncrypted = (name: string) => name.endsWith(AGE_SUFFIX);

/**
 * The stored bytes of `name`, decrypted when it is an age file and an identity is known.
 * `count` is told the size of each stored chunk as it is read (live progress against the stored size).
 */
export async function openObject(target: Target, name: string, options: DecryptOptions, count?: (bytes: number) => void): Promise<Readable> {
  const stored = counted(await target.get(name), count);
  return isEncrypted(name) ? decrypted(stored, name, options) : stored;
}

/** `stored` with each chunk's size told to `count` on the way; closing it closes `stored` too. */
export function counted(stored: Readable, count?: (bytes: number) => void): Readable {
  if (!count) return stored;
  const tally = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      count(chunk.length);
      callback(null, chunk);
    },
  });
  stored.on('error', (e) => tally.destroy(e));
  tally.on('close', () => stored.destroy()); // a reader that stops early releases the object
  return stored.pipe(tally);
}

/** Pass an age stream through decryption; ECRYPTO when no identity was given. */
export async function decrypted(stored: Readable, name: string, options: DecryptOptions): Promise<Readable> {
  if (!options.identities?.length) {
    stored.destroy();
    throw new LsError('ECRYPTO', { message: `${name} is encrypted; pass --identity <age identity file> (or set encryption.identityFile in the config)` });
  }
  const plain = (await loadAge()).decryptStream(options.identities);
  stored.on('error', (e) => plain.destroy(e));
  plain.on('close', () => stored.destroy()); // a reader that stops early releases the object
  return stored.pipe(plain);
}

/** A small object (a sidecar) as text. */
export async function readText(target: Target, name: string, options: DecryptOptions, count?: (bytes: number) => void): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await openObject(target, name, options, count)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The digest the `.sha256` sidecar records for the stored archive `name` (its ciphertext when encrypted). */
export async function storedSha256(target: Target, name: string): Promise<string | undefined> {
  const sidecar = sidecarNames(name, false).sha256;
  if (!(await target.stat(sidecar))) return undefined;
  return /^([0-9a-f]{64})\b/.exec((await readText(target, sidecar, {})).trim())?.[1];
}
