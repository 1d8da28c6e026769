/**
 * SshExecutor against a real fleet of sshd processes (test/fleet): real channels, real
 * sudo, real known_hosts files, a real bastion.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import * as tar from 'tar';
import { startFleet, KEY_PASSPHRASE, USER_PASSWORD, type Fleet, type FleetHost } from '../fleet/fleet.js';
import { SshExecutor, type SshExecutorOptions } from '../../engine/executors/ssh.js';
import type { HostConnection } from '../../engine/inventory/types.js';
import { LsError } from '../../engine/errors.js';

let fleet: Fleet;
let home: string; // an empty home: no ~/.ssh/known_hosts, no default keys
let scratchRoot: string;
const open: SshExecutor[] = [];
/** A fresh directory under this file's scratch root (removed in afterAll). */
const scratch = () => mkdtempSync(join(scratchRoot, 'd-'));

beforeAll(async () => {
  scratchRoot = mkdtempSync(join(tmpdir(), 'lsb-ssh-test-'));
  chmodSync(scratchRoot, 0o755);
  fleet = await startFleet({ hosts: 3, bastion: true });
  home = scratch();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(scratchRoot, { recursive: true, force: true });
});

function executor(h: FleetHost, connection: Partial<HostConnection> = {}, options: SshExecutorOptions = {}): SshExecutor {
  const e = new SshExecutor(
    {
      name: h.name,
      connection: {
        kind: 'ssh',
        address: h.address,
        port: h.port,
        user: fleet.sudoUser,
        privateKeyFile: fleet.clientKey,
        sshArgs: ['-o', `UserKnownHostsFile=${fleet.knownHosts}`],
        ...connection,
      },
    },
    { homeDir: home, agent: '', connectTimeoutMs: 3000, ...options },
  );
  open.push(e);
  return e;
}

async function connectError(e: SshExecutor): Promise<LsError> {
  const err = await e.run('true').then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(err).toBeInstanceOf(LsError);
  expect((err as LsError).code).toBe('ECONNECT');
  expect((err as LsError).message).not.toContain('\n');
  return err as LsError;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Generous: the machine running the suite is small and busy. */
const PROCESS_DEADLINE_MS = 60_000;

/** Waits until `ps` on the host shows (or no longer shows) a process whose arguments contain `needle`. */
async function waitForRemoteProcess(h: FleetHost, needle: string, present: boolean): Promise<void> {
  const watcher = executor(h);
  await waitFor(async () => remoteProcesses(await watcher.run('ps -eo args'), needle).length > 0 === present, PROCESS_DEADLINE_MS);
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A Writable that hashes what it gets and is deliberately slow, so backpressure matters. */
function hashingSink() {
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      setImmediate(done);
    },
  });
  return { sink, digest: () => hash.digest('hex'), bytes: () => bytes };
}

describe('running commands', () => {
  it('returns stdout, stderr and exit code in one shape, without throwing for a failed command', async () => {
    const e = executor(fleet.hosts[0]!);
    const ok = await e.run('echo out; echo err >&2; whoami');
    expect(ok).toMatchObject({ host: 'host1', exitCode: 0, failed: false, timedOut: false, stdout: 'out\nlsbtest\n', stderr: 'err\n' });
    const bad = await e.run('echo "it broke" >&2; exit 3');
    expect(bad).toMatchObject({ exitCode: 3, failed: true, stderr: 'it broke\n', command: 'echo "it broke" >&2; exit 3' });
  });

  it('runs the command line with sh -c semantics (quotes, pipes, $vars)', async () => {
    const e = executor(fleet.hosts[0]!);
    const r = await e.run(`x='a b'; printf '%s|' "$x" "it's" | tr a A`);
    expect(r.stdout).toBe(`A b|it's|`);
  });

  it('streams 100 MB of stdout to a slow writer intact', async () => {
    const e = executor(fleet.hosts[0]!);
    const file = `/tmp/lsb-100m-${process.pid}`;
    const made = await e.run(`head -c 104857600 /dev/urandom > ${file} && sha256sum ${file}`);
    expect(made.exitCode).toBe(0);
    const { sink, digest, bytes } = hashingSink();
    const r = await e.run(`cat ${file}; rm -f ${file}`, { stdout: sink });
    expect(r).toMatchObject({ exitCode: 0, stdout: '' });
    expect(bytes()).toBe(104857600);
    expect(digest()).toBe(made.stdout.split(' ')[0]);
  });

  it('streams stdin to the command (upload with cat > f)', async () => {
    const e = executor(fleet.hosts[1]!);
    const data = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    const file = `/tmp/lsb-upload-${process.pid}`;
    const r = await e.run(`cat > ${file} && sha256sum < ${file} && rm -f ${file}`, { stdin: Readable.from(chunks(data, 100_000)) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split(' ')[0]).toBe(sha256(data));
  });

  it('a stdin that fails mid-way ends the command stdin (as the local executor does): the command ends, it does not wait forever', async () => {
    const e = executor(fleet.hosts[1]!);
    // A restore pass refusing an entry it found changed (engine/restore/second-pass.ts) fails its stream like this.
    // One chunk, then the failure, once the command is reading.
    let reads = 0;
    const failing = new Readable({
      read() {
        if (reads++ === 0) this.push(Buffer.alloc(64 * 1024, 1));
        else this.destroy(new Error('entry changed'));
      },
    });
    const r = await e.run('wc -c', { stdin: failing, timeoutMs: 120_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(Number(r.stdout.trim())).toBeLessThanOrEqual(64 * 1024);
  });

  it('streams a tar of a directory that node-tar reads back with modes, mtimes and symlinks', async () => {
    const root = scratch();
    chmodSync(root, 0o755);
    const dir = join(root, 'x');
    mkdirSync(dir);
    writeFileSync(join(dir, 'secret.conf'), 'only root\n');
    chmodSync(join(dir, 'secret.conf'), 0o600);
    writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(dir, 'run.sh'), 0o755);
    symlinkSync('run.sh', join(dir, 'link'));
    const mtime = new Date('2024-03-01T12:00:00Z');
    utimesSync(join(dir, 'secret.conf'), mtime, mtime);

    const e = executor(fleet.hosts[0]!);
    const entries = new Map<string, { mode: number; mtime?: Date; linkpath?: string; body: string }>();
    const parser = new tar.Parser({
      onReadEntry: (entry) => {
        let body = '';
        entry.on('data', (c: Buffer) => (body += c.toString()));
        entry.on('end', () => entries.set(entry.path, { mode: entry.mode! & 0o7777, mtime: entry.mtime, linkpath: entry.linkpath, body }));
      },
    });
    const ended = new Promise((resolve) => parser.on('end', resolve));
    // root-only file: needs become
    const r = await e.run(`tar -C ${root} -cf - x`, { stdout: parser as unknown as Writable, become: { user: 'root', method: 'sudo' } });
    parser.end();
    await ended;
    expect(r.exitCode).toBe(0);
    expect(entries.get('x/secret.conf')).toMatchObject({ mode: 0o600, body: 'only root\n', mtime });
    expect(entries.get('x/run.sh')?.mode).toBe(0o755);
    expect(entries.get('x/link')?.linkpath).toBe('run.sh');
  });

  it('starts each of 20 commands in a row at once, without waiting for a delayed TCP ACK', async () => {
    const e = executor(fleet.hosts[1]!);
    await e.run('true'); // connected
    for (let i = 0; i < 20; i++) expect((await e.run('true')).exitCode).toBe(0);
    // With Nagle's algorithm on, each channel open after a close waited ~40 ms for the server's
    // ACK. How long that took is no measure on a busy machine; the socket's setting is: Node
    // records TCP_NODELAY on the socket it set it on (net.Socket's kSetNoDelay).
    const { client } = await (e as unknown as { connection: Promise<{ client: { _sock: object } }> }).connection;
    const noDelay = Object.getOwnPropertySymbols(client._sock).find((s) => s.description === 'kSetNoDelay');
    expect(noDelay && (client._sock as Record<symbol, unknown>)[noDelay]).toBe(true);
  });

  it('runs 20 concurrent commands over one connection', async () => {
    const e = executor(fleet.hosts[2]!);
    const before = acceptedLogins(fleet.hosts[2]!);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => e.run(`sleep 0.2; echo ${i}`)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    expect(acceptedLogins(fleet.hosts[2]!) - before).toBe(1);
  });

  it('kills the remote command on timeout', async () => {
    const e = executor(fleet.hosts[0]!);
    const r = await e.run('sleep 41.5; echo survived', { timeoutMs: 500 });
    expect(r).toMatchObject({ timedOut: true, failed: true, exitCode: undefined });
    // The result came when the command was killed, not when it would have ended by itself.
    expect(r.durationMs).toBeLessThan(41_500);
    await waitForRemoteProcess(fleet.hosts[0]!, 'sleep 41.5', false);
  });

  it('kills a remote command that ignores TERM with KILL (the kill sequence shared with the local executor)', async () => {
    const e = executor(fleet.hosts[2]!);
    const r = await e.run("trap '' TERM; sleep 44.5; echo survived", { timeoutMs: 300 });
    expect(r).toMatchObject({ timedOut: true, failed: true, exitCode: undefined, signal: 'SIGKILL' });
    expect(r.stdout).not.toContain('survived');
    await waitForRemoteProcess(fleet.hosts[2]!, 'sleep 44.5', false);
  });

  it('kills a become-root command and its children on timeout', async () => {
    const e = executor(fleet.hosts[1]!);
    const r = await e.run('sleep 43.5; echo survived', { timeoutMs: 300, become: { user: 'root', method: 'sudo' } });
    expect(r).toMatchObject({ timedOut: true, failed: true });
    expect(r.stdout).not.toContain('survived');
    await waitForRemoteProcess(fleet.hosts[1]!, 'sleep 43.5', false);
  });

  it('kills the remote command when the run is aborted', async () => {
    const e = executor(fleet.hosts[0]!);
    const controller = new AbortController();
    const running = e.run('sleep 42.5', { signal: controller.signal });
    await waitForRemoteProcess(fleet.hosts[0]!, 'sleep 42.5', true);
    controller.abort();
    const r = await running;
    expect(r).toMatchObject({ failed: true, timedOut: false });
    expect(r.cause?.message).toMatch(/abort/);
    await waitForRemoteProcess(fleet.hosts[0]!, 'sleep 42.5', false);
  });
});

describe('become and secrets', () => {
  it('becomes root with passwordless sudo', async () => {
    const r = await executor(fleet.hosts[0]!).run('id -un', { become: { user: 'root', method: 'sudo' } });
    expect({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ exitCode: 0, stdout: 'root\n', stderr: '' });
  });

  it('fails clearly, naming host and users, when the login user may not sudo', async () => {
    const e = executor(fleet.hosts[1]!, { user: fleet.noSudoUser });
    const r = await e.run('id -un', { become: { user: 'root', method: 'sudo' } });
    expect(r.failed).toBe(true);
    expect(r.cause?.message).toMatch(/host2/);
    expect(r.cause?.message).toMatch(/lsbnosudo/);
    expect(r.cause?.message).toMatch(/root/);
  });

  it('never leaks a configured sudo password into the command stdin when sudo does not ask for it', async () => {
    const r = await executor(fleet.hosts[0]!).run('id -un; cat', {
      become: { user: 'root', method: 'sudo', password: 'not-needed-pw' },
      stdin: 'payload\n',
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'root\npayload\n' });
  });

  it('becomes root with a sudo password fed through stdin, ahead of the data', async () => {
    const e = executor(fleet.hosts[2]!, { user: fleet.passwordUser });
    const become = { user: 'root', method: 'sudo' as const, password: USER_PASSWORD };
    for (let i = 0; i < 2; i++) {
      // the second run may find sudo's cached credentials: the password must still not reach cat
      const r = await e.run('id -un; cat', { become, stdin: 'payload\n' });
      expect(r).toMatchObject({ exitCode: 0, stdout: 'root\npayload\n' });
    }
  });

  it('reports a wrong sudo password clearly', async () => {
    const e = executor(fleet.hosts[2]!, { user: fleet.passwordUser });
    const r = await e.run('id -un', { become: { user: 'root', method: 'sudo', password: 'wrong-pw' } });
    expect(r.failed).toBe(true);
    expect(r.cause?.message).toMatch(/host3.*password/);
  });

  it('says so when the sudo password it was given is an ansible-vault text (an inventory `!vault` value, not decrypted)', async () => {
    const e = executor(fleet.hosts[2]!, { user: fleet.passwordUser });
    const vault = '$ANSIBLE_VAULT;1.1;AES256\n62313365396662343061393464336163383764373764613633653634306231386433626436623361\n';
    const r = await e.run('id -un', { become: { user: 'root', method: 'sudo', password: vault } });
    expect(r.failed).toBe(true);
    expect(r.cause?.message).toMatch(/host3 rejected the become password: it is encrypted with ansible-vault/);
    expect(r.cause?.message).not.toContain('6231336539');
  });

  it('passes env values through stdin: exact round trip, invisible to ps, data after it intact', async () => {
    const e = executor(fleet.hosts[1]!);
    const secret = `pw-${process.pid}-s3cr3t with 'quotes' \\ back\\slash\nsecond line\n\n`;
    // The command holds (with its environment set) until the test has looked at ps.
    const go = join(scratch(), 'go');
    const running = e.run(`while [ ! -e ${go} ]; do sleep 0.05; done; printf "%s|%s" "$LSB_SECRET" "$LSB_OTHER"; cat`, {
      env: { LSB_SECRET: secret, LSB_OTHER: '' },
      stdin: 'DATA',
      become: { user: 'root', method: 'sudo' },
    });
    await waitForRemoteProcess(fleet.hosts[1]!, go, true);
    const ps = await executor(fleet.hosts[1]!).run('ps -eo args');
    expect(ps.stdout).toContain(go);
    expect(ps.stdout).not.toContain(`pw-${process.pid}`);
    writeFileSync(go, '');
    const r = await running;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`${secret}|DATA`);
  });
});

describe('connection failures are one-line ECONNECT errors', () => {
  it('connection refused', async () => {
    const port = await closedPort();
    const err = await connectError(executor(fleet.hosts[0]!, { port }));
    expect(err.message).toMatch(/^Host host1: connection refused by 127\.0\.0\.2:\d+/);
  });

  it('a hung host fails within the connect timeout', async () => {
    fleet.pause(2);
    try {
      const started = Date.now();
      const err = await connectError(executor(fleet.hosts[2]!, {}, { connectTimeoutMs: 1500 }));
      expect(err.message).toMatch(/timed out after 1\.5 s/);
      // It gave up after the timeout asked for, not the default 10 s (a bound a busy machine cannot reach).
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      fleet.resume(2);
    }
  });

  it('a key the host does not accept', async () => {
    const key = join(scratch(), 'other');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const err = await connectError(executor(fleet.hosts[0]!, { privateKeyFile: key }));
    expect(err.message).toContain(`authentication failed for user lsbtest with key ${key}`);
  });

  it('a user that does not exist', async () => {
    const err = await connectError(executor(fleet.hosts[0]!, { user: 'nosuchuser' }));
    expect(err.message).toMatch(/authentication failed for user nosuchuser/);
  });

  it('logs in with a password (ansible_password) when no key is given', async () => {
    const r = await executor(fleet.hosts[0]!, { user: fleet.passwordUser, privateKeyFile: undefined }, { password: USER_PASSWORD }).run('id -un');
    expect(r.stdout).toBe('lsbpass\n');
    const err = await connectError(executor(fleet.hosts[0]!, { user: fleet.passwordUser, privateKeyFile: undefined }, { password: 'nope' }));
    expect(err.message).toMatch(/authentication failed for user lsbpass with password/);
  });

  it('an encrypted key without its passphrase; with it, it connects', async () => {
    const err = await connectError(executor(fleet.hosts[0]!, { privateKeyFile: fleet.encryptedClientKey }));
    expect(err.message).toMatch(/is encrypted and no passphrase was given/);
    const r = await executor(fleet.hosts[0]!, { privateKeyFile: fleet.encryptedClientKey }, { passphrase: KEY_PASSPHRASE }).run('echo ok');
    expect(r.stdout).toBe('ok\n');
  });

  it('decrypts a passphrase-protected key once per run, not once per host', async () => {
    // A copy, so no earlier test has decrypted this file yet; bcrypt makes each decryption cost CPU.
    const key = join(scratch(), 'id_enc');
    copyFileSync(fleet.encryptedClientKey, key);
    chmodSync(key, 0o600);
    const first = await executor(fleet.hosts[0]!, { privateKeyFile: key }, { passphrase: KEY_PASSPHRASE }).run('true');
    expect(first.failed).toBe(false);
    // Once decrypted, the file is not read again: every further host logs in with the parsed key.
    writeFileSync(key, 'not a key any more\n');
    const hosts = [...fleet.hosts, ...fleet.hosts];
    const results = await Promise.all(hosts.map((h) => executor(h, { privateKeyFile: key }, { passphrase: KEY_PASSPHRASE }).run('true')));
    expect(results.map((r) => r.failed)).toEqual(hosts.map(() => false));
  });

  it('logs in through ssh-agent when the inventory names no key', async () => {
    const dir = scratch();
    const socket = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await waitFor(() => existsSync(socket));
      execFileSync('ssh-add', ['-q', fleet.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const r = await executor(fleet.hosts[1]!, { privateKeyFile: undefined }, { agent: socket }).run('id -un');
      expect(r.stdout).toBe('lsbtest\n');
    } finally {
      agent.kill();
    }
  });
});

describe('host keys', () => {
  const noKnownHosts = { sshArgs: [] as string[] };

  it('refuses an unknown host key, naming its SHA256 fingerprint and trust on first use', async () => {
    const h = fleet.hosts[0]!;
    const err = await connectError(executor(h, noKnownHosts));
    expect(err.message).toContain(`unknown host key ${h.hostKeyFingerprint}`);
    expect(err.message).toContain('--trust-new-host-keys');
  });

  it('trust on first use records the key, and later connections check against it', async () => {
    const h = fleet.hosts[1]!;
    const tofuHome = scratch();
    const first = await executor(h, noKnownHosts, { homeDir: tofuHome, trustOnFirstUse: true }).run('echo hi');
    expect(first.stdout).toBe('hi\n');
    expect(readFileSync(join(tofuHome, '.ssh', 'known_hosts'), 'utf8')).toContain(`[${h.address}]:${h.port} ${h.hostPublicKey}`);
    const again = await executor(h, noKnownHosts, { homeDir: tofuHome }).run('echo again');
    expect(again.stdout).toBe('again\n');
  });

  it('always refuses a changed host key, even with trust on first use', async () => {
    const h = fleet.hosts[0]!;
    const other = fleet.hosts[1]!.hostPublicKey;
    const file = join(scratch(), 'known_hosts');
    writeFileSync(file, `[${h.address}]:${h.port} ${other}\n`);
    const err = await connectError(executor(h, { sshArgs: ['-o', `UserKnownHostsFile=${file}`] }, { trustOnFirstUse: true }));
    expect(err.message).toMatch(/CHANGED/);
    expect(err.message).toContain(h.hostKeyFingerprint);
    expect(err.message).toContain(`${file}:1`);
  });

  it('accepts hashed known_hosts entries (ssh-keygen -H)', async () => {
    const file = join(scratch(), 'known_hosts');
    copyFileSync(fleet.knownHosts, file);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'pipe' });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    const r = await executor(fleet.hosts[2]!, noKnownHosts, { knownHostsFiles: [file] }).run('echo hashed');
    expect(r.stdout).toBe('hashed\n');
  });

  it('StrictHostKeyChecking=no skips checking and warns once per host', async () => {
    const e = executor(fleet.hosts[0]!, { sshArgs: ['-o', 'StrictHostKeyChecking=no'] });
    await e.run('true');
    await e.close();
    await e.run('true');
    expect(e.warnings).toHaveLength(1);
    expect(e.warnings[0]).toMatch(/host key checking is disabled for 127\.0\.0\.2/);
  });
});

describe('bastions', () => {
  it('connects through a ProxyJump host', async () => {
    const b = fleet.bastion!;
    const h = fleet.hosts[1]!;
    const r = await executor(h, {
      sshArgs: ['-o', `UserKnownHostsFile=${fleet.knownHosts}`, '-o', `ProxyJump=${fleet.sudoUser}@${b.address}:${b.port}`],
    }).run('echo via bastion');
    expect(r.stdout).toBe('via bastion\n');
    expect(readFileSync(b.logFile, 'utf8')).toContain(`target ${h.address} port ${h.port}`);
  });

  it('connects through an `ssh -W %h:%p` ProxyCommand', async () => {
    const b = fleet.bastion!;
    const h = fleet.hosts[2]!;
    const r = await executor(h, {
      sshArgs: ['-o', `UserKnownHostsFile=${fleet.knownHosts}`, '-o', `ProxyCommand=ssh -W %h:%p -q -p ${b.port} ${fleet.sudoUser}@${b.address}`],
    }).run('echo via proxycommand');
    expect(r.stdout).toBe('via proxycommand\n');
    expect(readFileSync(b.logFile, 'utf8')).toContain(`target ${h.address} port ${h.port}`);
  });
});

describe('ssh2 native crypto', () => {
  it('has its native binding (without it AES-GCM transfers stall) and negotiates AES-GCM', async () => {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    expect(() => require('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node')).not.toThrow();
    const lines: string[] = [];
    await executor(fleet.hosts[0]!, {}, { debug: (l) => lines.push(l) }).run('true');
    expect(lines).toContain('Handshake: C->S Cipher: aes128-gcm@openssh.com');
  });
});

function* chunks(data: Buffer, size: number) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

function acceptedLogins(h: FleetHost): number {
  return (readFileSync(h.logFile, 'utf8').match(/Accepted publickey/g) ?? []).length;
}

function remoteProcesses(ps: { stdout: string }, needle: string): string[] {
  return ps.stdout.split('\n').filter((l) => l.includes(needle) && !l.includes('ps -eo') && !l.includes('<defunct>'));
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.2', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
