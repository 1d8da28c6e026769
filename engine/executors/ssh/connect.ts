/**
 * Opens one authenticated ssh2 connection (through jump hosts when asked), verifying the
 * host key, and turns every way it can fail into a one-line cause for LsError ECONNECT.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AnyAuthMethod, Client, ConnectConfig, ParsedKey } from 'ssh2';

/**
 * ssh2 (and its crypto) loads on the first SSH connection, not at start-up: a run on local hosts
 * never needs it. ssh2 is CommonJS, so require() it: the bundled CLI is a script run from a code
 * cache (engine/cli/compile-cache.ts), where require() needs nothing more.
 */
const loadSsh2 = async () => createRequire(import.meta.url)('ssh2') as typeof import('ssh2');
import type { Duplex } from 'node:stream';
import { fingerprint, hostKeyAlgorithms, recordHostKey, verifyHostKey } from './known-hosts.js';

/** AES-GCM first (fastest with AES-NI and ssh2's native binding), then chacha20, then CTR. */
export const CIPHER_PREFERENCE = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'chacha20-poly1305@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
] as const;

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  privateKeyFile?: string;
}

export interface ConnectSettings {
  passphrase?: string;
  password?: string;
  agent?: string;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  hostKeyChecking: boolean;
  knownHostsFiles: string[];
  /** Where a trusted-on-first-use key is recorded; undefined means do not trust unknown keys. */
  trustOnFirstUseFile?: string;
  onHostKeyUnchecked(endpoint: Endpoint): void;
  /** ssh2's protocol trace (handshake, negotiated algorithms), for troubleshooting. */
  debug?: (line: string) => void;
}

/** A connect failure with its one-line cause (the caller wraps it in LsError ECONNECT). */
export class ConnectFailure extends Error {
  override readonly name = 'ConnectFailure';
}

export async function openClient(endpoint: Endpoint, settings: ConnectSettings, sock?: Duplex): Promise<Client> {
  const { Client: SshClient, utils } = await loadSsh2();
  const privateKey = endpoint.privateKeyFile ? loadPrivateKey(utils, endpoint.privateKeyFile, settings.passphrase) : undefined;
  let hostKeyProblem: string | undefined;
  const serverHostKey = settings.hostKeyChecking ? hostKeyAlgorithms(settings.knownHostsFiles, endpoint.host, endpoint.port) : undefined;
  const config: ConnectConfig = {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.user,
    authHandler: authMethods(endpoint.user, privateKey, settings),
    sock,
    readyTimeout: settings.connectTimeoutMs,
    keepaliveInterval: settings.keepaliveIntervalMs,
    keepaliveCountMax: settings.keepaliveCountMax,
    algorithms: { cipher: [...CIPHER_PREFERENCE], ...(serverHostKey ? { serverHostKey } : {}) },
    debug: settings.debug,
    hostVerifier: (key: Buffer) => {
      hostKeyProblem = checkHostKey(endpoint, key, settings);
      return hostKeyProblem === undefined;
    },
  };
  const client = new SshClient();
  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    // ssh2's readyTimeout does not cover a TCP connect that never completes; this does.
    const timer = setTimeout(() => fail(new Error('timeout')), settings.connectTimeoutMs + 500);
    const fail = (err: Error & { level?: string; code?: string }) => {
      if (settled) return; // ssh2 may report several errors for one failed attempt
      settled = true;
      clearTimeout(timer);
      client.end();
      reject(new ConnectFailure(hostKeyProblem ?? describeError(err, endpoint, settings)));
    };
    client.once('ready', () => {
      settled = true;
      clearTimeout(timer);
      resolve(client);
    });
    // Errors after 'ready' surface as failed channels and the executor reconnects on 'close'.
    client.on('error', fail);
    client.connect(config);
    // Small SSH messages (channel open, close, auth) must not wait for the peer's delayed ACK
    // (Nagle): without this a second command on a connection waits ~40 ms before it starts.
    client.setNoDelay(true);
  });
}

/** Opens a TCP tunnel through `via` to host:port (ProxyJump / `ssh -W`). */
export function forward(via: Client, host: string, port: number, jumpName: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
      if (err) reject(new ConnectFailure(`jump host ${jumpName} could not open a connection to ${host}:${port}: ${err.message}`));
      else resolve(stream);
    });
  });
}

/**
 * The credentials we hold, in OpenSSH's order (key, agent, password). Without this list ssh2
 * first tries 'none', which servers refuse: one wasted round trip per connection.
 */
function authMethods(username: string, key: ParsedKey | undefined, settings: ConnectSettings): AnyAuthMethod[] {
  const methods: AnyAuthMethod[] = [];
  if (key) methods.push({ type: 'publickey', username, key });
  if (settings.agent) methods.push({ type: 'agent', username, agent: settings.agent });
  if (settings.password !== undefined) methods.push({ type: 'password', username, password: settings.password });
  return methods.length > 0 ? methods : [{ type: 'none', username }];
}

/**
 * Parsed keys by file and passphrase. Why: decrypting a passphrase-protected OpenSSH key runs
 * bcrypt (~180 ms of CPU here), and ssh2 would parse the key file again for every host.
 */
const parsedKeys = new Map<string, ParsedKey>();

function loadPrivateKey(utils: Awaited<ReturnType<typeof loadSsh2>>['utils'], file: string, passphrase: string | undefined): ParsedKey {
  const cacheKey = `${file}\0${passphrase ?? ''}`;
  const cached = parsedKeys.get(cacheKey);
  if (cached) return cached;
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (e) {
    throw new ConnectFailure(`cannot read private key file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parsed = utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    if (/passphrase/i.test(parsed.message) && passphrase === undefined)
      throw new ConnectFailure(`private key ${file} is encrypted and no passphrase was given`);
    if (passphrase !== undefined) throw new ConnectFailure(`cannot decrypt private key ${file} (wrong passphrase?): ${parsed.message}`);
    throw new ConnectFailure(`cannot read private key ${file}: ${parsed.message}`);
  }
  // Some formats may hold several keys (ssh2 then returns a list); OpenSSH's holds one.
  const first = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (!first?.isPrivateKey()) throw new ConnectFailure(`${file} holds no private key (is it the .pub file?)`);
  parsedKeys.set(cacheKey, first);
  return first;
}

/** Undefined when the key is acceptable; otherwise why it is refused. */
function checkHostKey(endpoint: Endpoint, key: Buffer, settings: ConnectSettings): string | undefined {
  if (!settings.hostKeyChecking) {
    settings.onHostKeyUnchecked(endpoint);
    return undefined;
  }
  const where = `${endpoint.host}:${endpoint.port}`;
  const verdict = verifyHostKey(settings.knownHostsFiles, endpoint.host, endpoint.port, key);
  switch (verdict.status) {
    case 'known':
      return undefined;
    case 'changed':
      return `host key for ${where} has CHANGED (now ${fingerprint(key)}; ${verdict.file}:${verdict.line} has another key) — possible man-in-the-middle; if the host was reinstalled, remove that line`;
    case 'revoked':
      return `host key ${fingerprint(key)} of ${where} is marked @revoked in ${verdict.file}:${verdict.line}`;
    case 'unknown':
      if (settings.trustOnFirstUseFile) {
        recordHostKey(settings.trustOnFirstUseFile, endpoint.host, endpoint.port, key);
        return undefined;
      }
      return `unknown host key ${fingerprint(key)} for ${where} (not in ${settings.knownHostsFiles.join(', ')}); verify it and add it to known_hosts, or run with --trust-new-host-keys to record it (trust on first use)`;
  }
}

function describeError(err: Error & { level?: string; code?: string }, endpoint: Endpoint, settings: ConnectSettings): string {
  const where = `${endpoint.host}:${endpoint.port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${where} (is sshd running on that port?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve host name ${endpoint.host}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${where}`;
    case 'ECONNRESET':
      return `connection reset by ${where}`;
  }
  if (err.level === 'client-timeout' || err.message === 'timeout')
    return `timed out after ${settings.connectTimeoutMs / 1000} s connecting to ${where} (host down or hung?)`;
  if (err.level === 'client-authentication') {
    const tried = [
      endpoint.privateKeyFile && `key ${endpoint.privateKeyFile}`,
      settings.agent && 'ssh-agent',
      settings.password !== undefined && 'password',
    ].filter(Boolean);
    return `authentication failed for user ${endpoint.user} with ${tried.join(', ') || 'no credentials (no key, agent or password)'}`;
  }
  return `${err.message.split('\n')[0]} (${where})`;
}
