/**
 * SSH keys in process: an unencrypted private key (OpenSSH's own format, as `ssh-keygen` writes
 * it, or PEM/PKCS#8) and public key blobs, for ed25519, RSA and ECDSA (nistp256/384/521).
 * Node's crypto does the maths; this file only translates between SSH's encodings and JWK.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SshReader, sshMpint, sshString } from './ssh-wire.js';

export interface SshPublicKey {
  /** ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ... */
  type: string;
  /** The public key blob (what `.pub` files and allowed_signers hold, base64). */
  blob: Buffer;
  key: KeyObject;
}

export interface SshPrivateKey {
  publicKey: SshPublicKey;
  key: KeyObject;
}

const ECDSA: Record<string, { curve: string; crv: string; size: number; hash: string }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', crv: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', crv: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', crv: 'P-521', size: 66, hash: 'sha512' },
};
const RSA_SIGNATURES: Record<string, string> = { 'rsa-sha2-512': 'sha512', 'rsa-sha2-256': 'sha256' };

const b64url = (b: Buffer) => b.toString('base64url');
const fromB64url = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

/** `SHA256:…` as ssh-keygen -l prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** A public key blob (RFC 4253 §6.6 / RFC 5656 §3.1) as a key Node can verify with. */
export function parsePublicBlob(blob: Buffer): SshPublicKey {
  const r = new SshReader(blob);
  const type = r.text();
  let jwk: JsonWebKey;
  if (type === 'ssh-ed25519') {
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(r.string()) };
  } else if (type === 'ssh-rsa') {
    const e = r.mpint();
    jwk = { kty: 'RSA', e: b64url(e), n: b64url(r.mpint()) };
  } else if (ECDSA[type]) {
    const { curve, crv, size } = ECDSA[type];
    if (r.text() !== curve) throw new Error(`${type} key with a different curve`);
    jwk = { kty: 'EC', crv, ...ecPoint(r.string(), size) };
  } else {
    throw new Error(`key type ${type} is not supported (use ed25519, RSA or ECDSA)`);
  }
  if (!r.done) throw new Error('trailing bytes after the key');
  return { type, blob, key: createPublicKey({ key: jwk, format: 'jwk' }) };
}

/** Reads a private key file's text; throws a plain Error saying what is wrong (the caller names the file). */
export function parsePrivateKey(text: string): SshPrivateKey {
  const openssh = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (openssh) return fromJwk(opensshJwk(Buffer.from(openssh[1]!.replace(/\s+/g, ''), 'base64')));
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) throw new Error(ENCRYPTED);
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(text)) throw new Error('not a private key (expected an OpenSSH or PEM private key, as ssh-keygen writes)');
  return fromJwk(createPrivateKey(text).export({ format: 'jwk' }));
}

const ENCRYPTED =
  "the key is protected by a passphrase; lsbackup signs unattended and needs a key without one (e.g. ssh-keygen -t ed25519 -N '' -f lsbackup-signing)";

/** openssh-key-v1 (OpenSSH's PROTOCOL.key): one unencrypted key. */
function opensshJwk(bytes: Buffer): JsonWebKey {
  const magic = Buffer.from('openssh-key-v1\0');
  if (!bytes.subarray(0, magic.length).equals(magic)) throw new Error('not an openssh-key-v1 key');
  const r = new SshReader(bytes.subarray(magic.length));
  const cipher = r.text();
  r.string(); // kdf name
  r.string(); // kdf options
  if (cipher !== 'none') throw new Error(ENCRYPTED);
  if (r.uint32() !== 1) throw new Error('the file holds more than one key');
  r.string(); // the public key, repeated inside
  const p = new SshReader(r.string());
  if (p.uint32() !== p.uint32()) throw new Error('damaged key (check bytes differ)');
  const type = p.text();
  if (type === 'ssh-ed25519') {
    const pub = p.string();
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(pub), d: b64url(p.string().subarray(0, 32)) };
  }
  if (type === 'ssh-rsa') {
    const [n, e, d, qi, pr, q] = [p.mpint(), p.mpint(), p.mpint(), p.mpint(), p.mpint(), p.mpint()];
    const big = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);
    const unbig = (v: bigint) => {
      const hex = v.toString(16);
      return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    };
    return {
      kty: 'RSA',
      n: b64url(n),
      e: b64url(e),
      d: b64url(d),
      p: b64url(pr),
      q: b64url(q),
      dp: b64url(unbig(big(d) % (big(pr) - 1n))),
      dq: b64url(unbig(big(d) % (big(q) - 1n))),
      qi: b64url(qi),
    };
  }
  if (ECDSA[type]) {
    const { crv, size } = ECDSA[type];
    p.string(); // curve name
    const point = ecPoint(p.string(), size);
    const d = p.mpint();
    return { kty: 'EC', crv, ...point, d: b64url(Buffer.concat([Buffer.alloc(Math.max(0, size - d.length)), d])) };
  }
  throw new Error(`key type ${type} is not supported (use ed25519, RSA or ECDSA; security keys cannot sign unattended)`);
}

/** An uncompressed EC point (0x04 || x || y) as JWK coordinates. */
function ecPoint(point: Buffer, size: number): { x: string; y: string } {
  if (point.length !== 1 + 2 * size || point[0] !== 4) throw new Error('unsupported EC point encoding');
  return { x: b64url(point.subarray(1, 1 + size)), y: b64url(point.subarray(1 + size)) };
}

function fromJwk(jwk: JsonWebKey): SshPrivateKey {
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  let blob: Buffer;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    blob = Buffer.concat([sshString('ssh-ed25519'), sshString(fromB64url(jwk.x))]);
  } else if (jwk.kty === 'RSA') {
    blob = Buffer.concat([sshString('ssh-rsa'), sshMpint(fromB64url(jwk.e)), sshMpint(fromB64url(jwk.n))]);
  } else {
    const type = Object.keys(ECDSA).find((t) => ECDSA[t]!.crv === jwk.crv);
    if (jwk.kty !== 'EC' || !type) throw new Error(`key type ${jwk.kty} ${jwk.crv ?? ''} is not supported (use ed25519, RSA or ECDSA)`);
    const point = Buffer.concat([Buffer.from([4]), fromB64url(jwk.x), fromB64url(jwk.y)]);
    blob = Buffer.concat([sshString(type), sshString(ECDSA[type]!.curve), sshString(point)]);
  }
  return { publicKey: parsePublicBlob(blob), key };
}

/** An SSH signature blob (string algorithm, string signature) over `data`. */
export function signBlob(privateKey: SshPrivateKey, data: Buffer): Buffer {
  const { type } = privateKey.publicKey;
  if (type === 'ssh-ed25519') return Buffer.concat([sshString(type), sshString(sign(null, data, privateKey.key))]);
  if (type === 'ssh-rsa') return Buffer.concat([sshString('rsa-sha2-512'), sshString(sign('sha512', data, privateKey.key))]);
  const { hash, size } = ECDSA[type]!;
  const rs = sign(hash, data, { key: privateKey.key, dsaEncoding: 'ieee-p1363' });
  return Buffer.concat([sshString(type), sshString(Buffer.concat([sshMpint(rs.subarray(0, size)), sshMpint(rs.subarray(size))]))]);
}

/** Whether `signature` (an SSH signature blob) is `publicKey`'s over `data`. */
export function verifyBlob(publicKey: SshPublicKey, data: Buffer, signature: Buffer): boolean {
  const r = new SshReader(signature);
  const algorithm = r.text();
  const bytes = r.string();
  const { type, key } = publicKey;
  if (type === 'ssh-ed25519') return algorithm === type && verify(null, data, key, bytes);
  if (type === 'ssh-rsa') return RSA_SIGNATURES[algorithm] !== undefined && verify(RSA_SIGNATURES[algorithm], data, key, bytes);
  if (algorithm !== type) return false;
  const { hash, size } = ECDSA[type]!;
  const inner = new SshReader(bytes);
  const pad = (b: Buffer) => (b.length > size ? b : Buffer.concat([Buffer.alloc(size - b.length), b]));
  const rs = Buffer.concat([pad(inner.mpint()), pad(inner.mpint())]);
  return rs.length === 2 * size && verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, rs);
}
