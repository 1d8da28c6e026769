/**
 * known_hosts verification the way OpenSSH does it: plain and hashed (`|1|salt|hash`)
 * host patterns, `[host]:port` for non-22 ports, wildcards and negation, @revoked.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ServerHostKeyAlgorithm } from 'ssh2';

export type HostKeyVerdict =
  { status: 'known' } | { status: 'unknown' } | { status: 'changed'; file: string; line: number } | { status: 'revoked'; file: string; line: number };

interface Entry {
  file: string;
  line: number;
  marker?: string;
  patterns: string;
  key: Buffer;
}

/** `SHA256:base64` without padding, as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The name OpenSSH looks up: `host` on port 22, else `[host]:port`. */
export function hostLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type inside an SSH public key blob (its first string). */
export function keyType(key: Buffer): string {
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('latin1');
}

export function verifyHostKey(files: readonly string[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = hostLookupName(host, port);
  const type = keyType(key);
  let changed: HostKeyVerdict | undefined;
  let otherType: HostKeyVerdict | undefined;
  let known = false;
  for (const entry of files.flatMap(readEntries)) {
    if (!hostMatches(entry.patterns, name)) continue;
    const sameKey = entry.key.equals(key);
    if (entry.marker === '@revoked') {
      if (sameKey) return { status: 'revoked', file: entry.file, line: entry.line };
      continue;
    }
    if (entry.marker) continue; // @cert-authority: certificates are not supported
    if (sameKey) known = true;
    else if (keyType(entry.key) === type) changed ??= { status: 'changed', file: entry.file, line: entry.line };
    else otherType ??= { status: 'changed', file: entry.file, line: entry.line };
  }
  // Like OpenSSH, one matching line is enough even if an older line for the host differs.
  if (known) return { status: 'known' };
  // A key of a type the host has no line for, from a host with lines of other types, is no new
  // host: the connection asked for those types first (hostKeyAlgorithms), so whatever answered
  // has none of the keys on record, and trust on first use must not take it.
  return changed ?? otherType ?? { status: 'unknown' };
}

/** ssh2's host key algorithms, in its own order of preference. */
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * The host key algorithms to offer host:port, those of the keys known_hosts has for it first (as
 * OpenSSH orders them), so a host is asked for a key on record rather than another of its keys;
 * undefined (ssh2's order) when it has none.
 */
export function hostKeyAlgorithms(files: readonly string[], host: string, port: number): ServerHostKeyAlgorithm[] | undefined {
  const name = hostLookupName(host, port);
  const types = new Set(files.flatMap(readEntries).flatMap((e) => (e.marker || !hostMatches(e.patterns, name) ? [] : [keyType(e.key)])));
  const preferred = HOST_KEY_ALGORITHMS.filter((a) => types.has(a.startsWith('rsa-sha2-') ? 'ssh-rsa' : a));
  if (preferred.length === 0) return undefined;
  return [...preferred, ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
}

/** Appends the key for host:port to file (trust on first use). */
export function recordHostKey(file: string, host: string, port: number, key: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${hostLookupName(host, port)} ${keyType(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
}

/**
 * Parsed files, reused while the file is unchanged (same mtime and size). Why: every host of a
 * run checks its key against the same files; a big known_hosts was read and split per host.
 */
const parsedFiles = new Map<string, { mtimeMs: number; size: number; entries: Entry[] }>();

function readEntries(file: string): Entry[] {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return [];
  }
  const cached = parsedFiles.get(file);
  if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.entries;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const entries = parseEntries(file, text);
  parsedFiles.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, entries });
  return entries;
}

function parseEntries(file: string, text: string): Entry[] {
  const entries: Entry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const words = line.split(/\s+/);
    const marker = words[0]!.startsWith('@') ? words.shift() : undefined;
    const [patterns, , base64] = words;
    if (!patterns || !base64) return;
    entries.push({ file, line: index + 1, marker, patterns, key: Buffer.from(base64, 'base64') });
  });
  return entries;
}

function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (wildcardMatch(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}
