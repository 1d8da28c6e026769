/**
 * SSH signatures as `ssh-keygen -Y sign` writes them (OpenSSH's PROTOCOL.sshsig), so anyone can
 * check a backup's metadata.json with `ssh-keygen -Y verify` and no lsbackup.
 */
import { createHash } from 'node:crypto';
import { SshReader, sshString } from './ssh-wire.js';
import { parsePublicBlob, signBlob, verifyBlob, type SshPrivateKey, type SshPublicKey } from './ssh-keys.js';

const MAGIC = Buffer.from('SSHSIG');
const VERSION = 1;
const HASH = 'sha512';
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';

/** What is actually signed: the message's hash framed with the namespace (PROTOCOL.sshsig). */
function signedData(namespace: string, hashAlgorithm: string, message: Buffer): Buffer {
  const digest = createHash(hashAlgorithm).update(message).digest();
  return Buffer.concat([MAGIC, sshString(namespace), sshString(''), sshString(hashAlgorithm), sshString(digest)]);
}

/** The armored signature (`-----BEGIN SSH SIGNATURE-----`, base64 in 70-column lines). */
export function sshsigSign(privateKey: SshPrivateKey, namespace: string, message: Buffer): string {
  const version = Buffer.alloc(4);
  version.writeUInt32BE(VERSION);
  const blob = Buffer.concat([
    MAGIC,
    version,
    sshString(privateKey.publicKey.blob),
    sshString(namespace),
    sshString(''),
    sshString(HASH),
    sshString(signBlob(privateKey, signedData(namespace, HASH, message))),
  ]);
  const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
  return [BEGIN, ...lines, END, ''].join('\n');
}

export interface ParsedSshsig {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: string;
  signature: Buffer;
}

/** Decodes an armored signature; throws a plain Error naming what is malformed. */
export function parseSshsig(armored: string): ParsedSshsig {
  const text = armored.trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END)) throw new Error(`not an SSH signature (expected ${BEGIN})`);
  const r = new SshReader(Buffer.from(text.slice(BEGIN.length, -END.length).replace(/\s+/g, ''), 'base64'));
  try {
    if (!r.raw(MAGIC.length).equals(MAGIC)) throw new Error('bad magic');
    if (r.uint32() !== VERSION) throw new Error('unsupported version');
    const publicKey = parsePublicBlob(r.string());
    const namespace = r.text();
    r.string(); // reserved
    const hashAlgorithm = r.text();
    if (hashAlgorithm !== 'sha512' && hashAlgorithm !== 'sha256') throw new Error(`unsupported hash ${hashAlgorithm}`);
    const signature = r.string();
    if (!r.done) throw new Error('trailing bytes');
    return { publicKey, namespace, hashAlgorithm, signature };
  } catch (e) {
    throw new Error(`malformed SSH signature: ${(e as Error).message}`);
  }
}

/** Whether the signature is its key's, over `message`, in `namespace`. */
export function sshsigVerify(sig: ParsedSshsig, namespace: string, message: Buffer): boolean {
  if (sig.namespace !== namespace) return false;
  try {
    return verifyBlob(sig.publicKey, signedData(namespace, sig.hashAlgorithm, message), sig.signature);
  } catch {
    return false; // a malformed signature blob is a bad signature
  }
}
