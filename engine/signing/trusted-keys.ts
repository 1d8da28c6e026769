/**
 * Trusted signing keys: OpenSSH allowed_signers files (`principals [options] keytype key`, see
 * ssh-keygen(1) "ALLOWED SIGNERS"), `.pub` files, or public key lines given directly. The same
 * allowed_signers file works with `ssh-keygen -Y verify -f`.
 */
import { readFile } from 'node:fs/promises';
import { LsError } from '../errors.js';
import { fingerprint } from './ssh-keys.js';

export interface TrustedKey {
  /** Who this key stands for: the allowed_signers principals, else the key's comment, else its fingerprint. */
  identity: string;
  blob: Buffer;
  /** From `namespaces="…"`: the key is trusted only for these. */
  namespaces?: string[];
  validAfter?: Date;
  validBefore?: Date;
  /** Where it was read, for messages. */
  source: string;
}

const KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$/;

/** A public key given inline (`ssh-ed25519 AAAA… comment`) rather than the path of a file. */
export function isPublicKeyLine(item: string): boolean {
  return KEY_TYPE.test(item.trim().split(/\s+/)[0] ?? '');
}

/** Each item is a public key line (`ssh-ed25519 AAAA… comment`) or a file of them / an allowed_signers file. */
export async function loadTrustedKeys(items: string[]): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const item of items) {
    if (isPublicKeyLine(item)) {
      keys.push(parseLine(item.trim(), 'a public key given in signing.trusted'));
      continue;
    }
    let text: string;
    try {
      text = await readFile(item, 'utf8');
    } catch (e) {
      throw new LsError('ESIGNING', { message: `cannot read the trusted keys file ${item}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
    text.split('\n').forEach((line, i) => {
      const trimmed = line.trim();
      if (trimmed && !trimmed.startsWith('#')) keys.push(parseLine(trimmed, `${item}:${i + 1}`));
    });
  }
  return keys;
}

/** One line: `keytype key [comment]` or `principals [options] keytype key [comment]`. */
function parseLine(line: string, where: string): TrustedKey {
  const fail = (why: string): never => {
    throw new LsError('ESIGNING', {
      message: `${where}: ${why}; expected 'ssh-ed25519 AAAA… [comment]' or an allowed_signers line 'principals [options] ssh-ed25519 AAAA…'`,
    });
  };
  const tokens = tokenize(line);
  const typeAt = tokens.findIndex((t) => KEY_TYPE.test(t));
  if (typeAt < 0 || typeAt > 2 || tokens[typeAt + 1] === undefined) fail('no supported public key (ed25519, RSA, ECDSA)');
  const blob = Buffer.from(tokens[typeAt + 1]!, 'base64');
  const key: TrustedKey = { identity: '', blob, source: where };
  if (typeAt === 0) {
    key.identity = tokens.slice(2).join(' ') || fingerprint(blob);
    return key;
  }
  key.identity = tokens[0]!;
  if (typeAt === 2) {
    for (const option of splitOptions(tokens[1]!)) {
      const [name, value = ''] = option.split(/=(.*)/s) as [string, string?];
      const unquoted = value.replace(/^"(.*)"$/s, '$1');
      if (name === 'namespaces') key.namespaces = unquoted.split(',');
      else if (name === 'valid-after') key.validAfter = sshTime(unquoted) ?? fail(`bad valid-after time '${unquoted}'`);
      else if (name === 'valid-before') key.validBefore = sshTime(unquoted) ?? fail(`bad valid-before time '${unquoted}'`);
      else if (name === 'cert-authority') fail('certificate authorities are not supported by lsbackup');
      else fail(`unknown option '${name}'`);
    }
  }
  return key;
}

/** Whitespace-separated, double quotes keep spaces. */
function tokenize(line: string): string[] {
  return line.match(/(?:"[^"]*"|[^\s"])+/g) ?? [];
}

/** `a,b="x,y"` -> ['a', 'b="x,y"']. */
function splitOptions(options: string): string[] {
  return options.match(/(?:"[^"]*"|[^,"])+/g) ?? [];
}

/** YYYYMMDD[HHMM[SS]][Z]: UTC with Z, local time without (as ssh-keygen reads it). */
function sshTime(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', z] = m;
  const parts = [+y!, +mo! - 1, +d!, +h, +mi, +s] as const;
  return z ? new Date(Date.UTC(...parts)) : new Date(...parts);
}

/** The trusted keys that vouch for `blob` in `namespace` now. */
export function trustedFor(keys: TrustedKey[], blob: Buffer, namespace: string, now = new Date()): TrustedKey[] {
  return keys.filter(
    (k) =>
      k.blob.equals(blob) &&
      (!k.namespaces || k.namespaces.some((n) => n === namespace || n === '*')) &&
      (!k.validAfter || k.validAfter <= now) &&
      (!k.validBefore || now < k.validBefore),
  );
}
