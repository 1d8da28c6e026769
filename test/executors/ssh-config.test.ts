/** The pure parts of the SSH executor: known_hosts matching and ssh argument parsing. */
import { afterAll, describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint, hostKeyAlgorithms, verifyHostKey } from '../../engine/executors/ssh/known-hosts.js';
import { parseSshArgs } from '../../engine/executors/ssh/ssh-args.js';
import { createExecutor } from '../../engine/executors/index.js';
import { SshExecutor } from '../../engine/executors/ssh.js';
import { LocalExecutor } from '../../engine/executors/local.js';

/** A public key blob of the type (ssh-ed25519 unless given) with the given fill byte. */
function blob(fill: number, keyType = 'ssh-ed25519'): Buffer {
  const type = Buffer.from(keyType);
  const b = Buffer.alloc(4 + type.length + 4 + 32, fill);
  b.writeUInt32BE(type.length, 0);
  type.copy(b, 4);
  b.writeUInt32BE(32, 4 + type.length);
  return b;
}
const line = (hosts: string, key: Buffer, type = 'ssh-ed25519') => `${hosts} ${type} ${key.toString('base64')}\n`;
const scratchRoot = mkdtempSync(join(tmpdir(), 'lsb-ssh-config-test-'));
afterAll(() => rmSync(scratchRoot, { recursive: true, force: true }));

function knownHosts(text: string): string {
  const file = join(mkdtempSync(join(scratchRoot, 'd-')), 'known_hosts');
  writeFileSync(file, text);
  return file;
}

describe('known_hosts', () => {
  const key = blob(1);
  const other = blob(2);

  it('matches plain names, [host]:port, wildcards and negations', () => {
    const file = knownHosts(line('db1,10.0.0.1', key) + line('[10.0.0.2]:2222', key) + line('*.prod,!bad.prod', key));
    expect(verifyHostKey([file], '10.0.0.1', 22, key).status).toBe('known');
    expect(verifyHostKey([file], '10.0.0.2', 2222, key).status).toBe('known');
    expect(verifyHostKey([file], '10.0.0.2', 22, key).status).toBe('unknown');
    expect(verifyHostKey([file], 'web.prod', 22, key).status).toBe('known');
    expect(verifyHostKey([file], 'bad.prod', 22, key).status).toBe('unknown');
  });

  it('matches hashed entries and reports a changed key with its file and line', () => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[10.0.0.3]:22022').digest('base64');
    const file = knownHosts('# comment\n' + line(`|1|${salt.toString('base64')}|${hash}`, key));
    expect(verifyHostKey([file], '10.0.0.3', 22022, key).status).toBe('known');
    expect(verifyHostKey([file], '10.0.0.3', 22022, other)).toEqual({ status: 'changed', file, line: 2 });
  });

  it('refuses a @revoked key even when another line lists it', () => {
    const file = knownHosts(line('h1', key) + `@revoked * ssh-ed25519 ${key.toString('base64')}\n`);
    expect(verifyHostKey([file], 'h1', 22, key).status).toBe('revoked');
  });

  it('asks a host for the types of key on record first; a key of another type from it is a changed key, not a new host', () => {
    const rsa = blob(3, 'ssh-rsa');
    const file = knownHosts(line('[10.0.0.4]:2222', rsa, 'ssh-rsa') + line('10.0.0.5', key));
    expect(hostKeyAlgorithms([file], '10.0.0.4', 2222)?.slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithms([file], '10.0.0.5', 22)?.[0]).toBe('ssh-ed25519');
    expect(hostKeyAlgorithms([file], '10.0.0.6', 22), "a host not on record: ssh2's order").toBeUndefined();
    expect(verifyHostKey([file], '10.0.0.4', 2222, key)).toEqual({ status: 'changed', file, line: 1 });
    expect(verifyHostKey([file], '10.0.0.6', 22, key).status).toBe('unknown');
  });

  it('prints fingerprints like ssh-keygen -l', () => {
    expect(fingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('ssh args', () => {
  it('reads -o in its three spellings, case-insensitively', () => {
    const { options } = parseSshArgs(['-o', 'StrictHostKeyChecking=no', '-oServerAliveInterval=30', '-o', 'ConnectTimeout 5']);
    expect(options.get('stricthostkeychecking')).toBe('no');
    expect(options.get('serveraliveinterval')).toBe('30');
    expect(options.get('connecttimeout')).toBe('5');
  });

  it('reads a ProxyJump chain and the usual bastion ProxyCommand', () => {
    expect(parseSshArgs(['-o', 'ProxyJump=ops@bastion:2200,jump2']).jumps).toEqual([
      { user: 'ops', host: 'bastion', port: 2200 },
      { user: undefined, host: 'jump2', port: 22 },
    ]);
    expect(parseSshArgs(['-o', 'ProxyCommand="ssh -W %h:%p -q -p 2201 -i /k/id operations@10.1.1.1"']).jumps).toEqual([
      { user: 'operations', host: '10.1.1.1', port: 2201, privateKeyFile: '/k/id' },
    ]);
  });
});

describe('createExecutor', () => {
  const host = (kind: 'local' | 'ssh', vars = {}) => ({
    name: 'h',
    groups: [],
    vars,
    connection: { kind, address: '127.0.0.1', port: 22, sshArgs: [] },
  });

  it('returns the local executor for ansible_connection=local and SSH otherwise', () => {
    expect(createExecutor(host('local'))).toBeInstanceOf(LocalExecutor);
    expect(createExecutor(host('ssh'))).toBeInstanceOf(SshExecutor);
  });

  it('refuses a ProxyCommand it cannot honour instead of silently connecting directly', () => {
    const h = { ...host('ssh'), connection: { ...host('ssh').connection, sshArgs: ['-o', 'ProxyCommand=nc -X 5 -x proxy:1080 %h %p'] } };
    expect(() => createExecutor(h)).toThrow(/unsupported ProxyCommand/);
  });
});
