/**
 * Signed backups: metadata.json (which records the sha256 of every entry and recipe) is signed
 * with an SSH key in the `ssh-keygen -Y sign` format, namespace `lsbackup`. See
 * docs/archive-format.md ("Signature") and the README ("Signed backups").
 */
import { readFile } from 'node:fs/promises';
import { LsError } from '../errors.js';
import { fingerprint, parsePrivateKey } from './ssh-keys.js';
import { parseSshsig, sshsigSign, sshsigVerify } from './sshsig.js';
import { trustedFor, type TrustedKey } from './trusted-keys.js';

export { loadTrustedKeys, type TrustedKey } from './trusted-keys.js';

/** The SSHSIG namespace: a signature made for anything else (git commits, files) does not count. */
export const SIGNATURE_NAMESPACE = 'lsbackup';

export interface Signer {
  /** SHA256:… of the public key. */
  fingerprint: string;
  /** The armored signature of `message`. */
  sign(message: Buffer): Buffer;
}

/** Reads the signing key once, before the run: a missing, encrypted or unusable key stops here. */
export async function loadSigner(file: string): Promise<Signer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new LsError('ESIGNING', { message: `cannot read the signing key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
  let key;
  try {
    key = parsePrivateKey(text);
  } catch (e) {
    throw new LsError('ESIGNING', { message: `the signing key ${file} cannot be used: ${(e as Error).message}` });
  }
  return {
    fingerprint: fingerprint(key.publicKey.blob),
    sign: (message) => Buffer.from(sshsigSign(key, SIGNATURE_NAMESPACE, message)),
  };
}

export type SignatureCheck =
  /** Signed by a key in the trusted set. */
  | { status: 'trusted'; signer: string; fingerprint: string }
  /** A valid signature, by a key nobody said to trust. */
  | { status: 'untrusted'; fingerprint: string }
  | { status: 'unsigned' }
  /** Malformed, another namespace, or not matching metadata.json: the archive was altered. */
  | { status: 'bad'; reason: string };

/** Checks `signature` (the armored SSHSIG, if any) over the exact bytes of metadata.json. */
export function checkSignature(metadata: Buffer, signature: Buffer | undefined, trusted: TrustedKey[]): SignatureCheck {
  if (!signature) return { status: 'unsigned' };
  let parsed;
  try {
    parsed = parseSshsig(signature.toString('utf8'));
  } catch (e) {
    return { status: 'bad', reason: (e as Error).message };
  }
  const print = fingerprint(parsed.publicKey.blob);
  if (parsed.namespace !== SIGNATURE_NAMESPACE) return { status: 'bad', reason: `signed for namespace '${parsed.namespace}', not '${SIGNATURE_NAMESPACE}'` };
  if (!sshsigVerify(parsed, SIGNATURE_NAMESPACE, metadata))
    return { status: 'bad', reason: `the signature by ${print} does not match metadata.json (altered after signing)` };
  const vouching = trustedFor(trusted, parsed.publicKey.blob, SIGNATURE_NAMESPACE);
  if (vouching.length === 0) return { status: 'untrusted', fingerprint: print };
  return { status: 'trusted', signer: vouching.map((k) => k.identity).join(', '), fingerprint: print };
}

/** One line for the plan and `verify`. */
export function describeSignature(check: SignatureCheck): string {
  switch (check.status) {
    case 'trusted':
      return `signed by ${check.signer} (${check.fingerprint}), trusted`;
    case 'untrusted':
      return `signed by ${check.fingerprint}, a key not in the trusted keys (--trusted-keys, signing.trusted)`;
    case 'unsigned':
      return 'not signed';
    case 'bad':
      return `BAD signature: ${check.reason}`;
  }
}
