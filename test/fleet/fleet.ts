/**
 * A fleet of real sshd processes, one per loopback address (127.0.0.2, 127.0.0.3, ...),
 * each with its own config, host key, PidFile and log in one temp directory. Component
 * tests and benchmarks use it as "the cluster": real SSH, real users, real sudo.
 *
 * Every process started here is stopped by PID in stop(); call it from afterAll.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, rmSync, chmodSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireIntegrationTier } from '../helpers/tier.js';

export const SUDO_USER = 'lsbtest';
export const NOSUDO_USER = 'lsbnosudo';
export const KEY_PASSPHRASE = 'fleet-key-passphrase';
/** A user with a real password: SSH password login allowed, sudo asks for this password. */
export const PASSWORD_USER = 'lsbpass';
export const USER_PASSWORD = 'fleet-user-pw';

export interface FleetHost {
  /** Inventory name, e.g. host1. */
  name: string;
  address: string;
  port: number;
  pid: number;
  /** `SHA256:...` as `ssh-keygen -l` prints it. */
  hostKeyFingerprint: string;
  /** The host's public key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string;
  /** sshd's log (-E); the bastion logs at DEBUG1 so forwarded connections show up. */
  logFile: string;
}

export interface Fleet {
  dir: string;
  hosts: FleetHost[];
  /** A host with TCP forwarding on, to be used as ProxyJump; not in `hosts`. */
  bastion?: FleetHost;
  /** Unencrypted ed25519 client key, authorized for both test users on every host. */
  clientKey: string;
  /** ed25519 client key encrypted with KEY_PASSPHRASE, also authorized. */
  encryptedClientKey: string;
  /** known_hosts listing every host (and the bastion) as `[address]:port`. */
  knownHosts: string;
  sudoUser: string;
  noSudoUser: string;
  /** Logs in with USER_PASSWORD (or the client key); sudo requires USER_PASSWORD. */
  passwordUser: string;
  stop(): Promise<void>;
  /** kill -STOP: the host accepts TCP connections but never answers (a hung host). */
  pause(i: number): void;
  resume(i: number): void;
  /** kill -KILL of sshd and everything it forked (sessions, their commands): a dead host. */
  kill(i: number): void;
  /**
   * A new host key (as after a reinstall, or another machine at the address; `type` rsa: a key of
   * another type than the one on record): sshd is told to re-read it (SIGHUP); known_hosts keeps the old one.
   */
  rekey(i: number, type?: 'ed25519' | 'rsa'): Promise<void>;
  /** Writes `inventory` (INI, like LambdaStack generates) into dir and returns its path. */
  writeInventory(dir: string, groupsByHost: Record<string, string[]>): string;
}

export interface FleetOptions {
  hosts: number;
  bastion?: boolean;
  /** First loopback address's last octet; default 2. */
  firstOctet?: number;
  /**
   * Shell run as root in a private mount namespace of each host's sshd before it starts, e.g.
   * to hide a binary from the host or put one on its PATH (bind mounts), leaving this machine's
   * own view alone. A function gives each host its own (by inventory name, e.g. host1).
   */
  mountSetup?: string | ((name: string) => string);
  /** Every host's sshd listens on this port (e.g. 22, as an inventory without ansible_port expects); default: a free one. */
  port?: number;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  requireIntegrationTier('an sshd fleet');
  const dir = mkdtempSync(join(tmpdir(), 'lsb-fleet-'));
  const { clientKey, encryptedClientKey, authorizedKeys } = prepareFleetDir(dir);

  const children: ChildProcess[] = [];
  const first = options.firstOctet ?? 2;
  const stopAll = async () => {
    await Promise.all(children.map((c) => stopSshd(c)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const count = options.hosts + (options.bastion ? 1 : 0);
    const started: FleetHost[] = [];
    for (let i = 0; i < count; i++) {
      const isBastion = i === options.hosts;
      const name = isBastion ? 'bastion' : `host${i + 1}`;
      const mountSetup = typeof options.mountSetup === 'function' ? options.mountSetup(name) : options.mountSetup;
      const address = `127.0.0.${first + i}`;
      const placement = options.port === undefined ? undefined : { port: options.port };
      const { host, child } = await startSshd(dir, name, address, authorizedKeys, isBastion ? 'DEBUG1' : 'VERBOSE', placement, mountSetup);
      children.push(child);
      started.push(host);
    }
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, started.map((h) => `[${h.address}]:${h.port} ${h.hostPublicKey}\n`).join(''));
    const hosts = started.slice(0, options.hosts);
    const pidOf = (i: number) => {
      const h = hosts[i];
      if (!h) throw new Error(`fleet has no host ${i}`);
      return h.pid;
    };
    return {
      dir,
      hosts,
      bastion: options.bastion ? started[options.hosts] : undefined,
      clientKey,
      encryptedClientKey,
      knownHosts,
      sudoUser: SUDO_USER,
      noSudoUser: NOSUDO_USER,
      passwordUser: PASSWORD_USER,
      stop: stopAll,
      pause: (i) => process.kill(pidOf(i), 'SIGSTOP'),
      resume: (i) => process.kill(pidOf(i), 'SIGCONT'),
      kill: (i) => {
        // Parents first, so no sshd forks a replacement while its children die.
        for (const pid of [pidOf(i), ...descendantPids(pidOf(i))]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      },
      rekey: async (i, type = 'ed25519') => {
        const h = hosts[i]!;
        const hostKey = join(dir, h.name, 'ssh_host_ed25519_key');
        rmSync(hostKey);
        rmSync(hostKey + '.pub');
        // The file keeps its name whatever the type: sshd_config's HostKey names it.
        execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', hostKey]);
        const listening = () => (readFileSync(h.logFile, 'utf8').match(/Server listening on/g) ?? []).length;
        const before = listening();
        // sshd -D re-executes itself on SIGHUP (same PID) and loads the new key.
        process.kill(h.pid, 'SIGHUP');
        const deadline = Date.now() + 120_000;
        while (listening() === before) {
          if (Date.now() > deadline) throw new Error(`sshd ${h.name} did not restart after SIGHUP`);
          await new Promise((r) => setTimeout(r, 20));
        }
        await waitForPort(h.address, h.port);
        h.hostPublicKey = readFileSync(hostKey + '.pub', 'utf8')
          .trim()
          .split(/\s+/)
          .slice(0, 2)
          .join(' ');
        h.hostKeyFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', hostKey + '.pub'], { encoding: 'utf8' }).split(/\s+/)[1]!;
      },
      writeInventory: (target, groupsByHost) => writeInventory(target, hosts, groupsByHost, clientKey, knownHosts),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * Makes the test users, /run/sshd, and in `dir` the client keys and the authorized_keys every
 * sshd of a fleet shares (also used by the network-namespace fleet, test/fleet/netns.ts).
 */
export function prepareFleetDir(dir: string): { clientKey: string; encryptedClientKey: string; authorizedKeys: string } {
  ensureTestUsers();
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const clientKey = join(dir, 'id_ed25519');
  const encryptedClientKey = join(dir, 'id_ed25519_enc');
  keygen(clientKey, '');
  keygen(encryptedClientKey, KEY_PASSPHRASE);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(clientKey + '.pub', 'utf8') + readFileSync(encryptedClientKey + '.pub', 'utf8'));
  chmodSync(authorizedKeys, 0o644);
  return { clientKey, encryptedClientKey, authorizedKeys };
}

function keygen(file: string, passphrase: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'lsbackup-test', '-f', file]);
  chmodSync(file, 0o600);
}

/** Creates the test users once per machine; safe to call concurrently from several test files. */
export function ensureTestUsers(): void {
  for (const user of [SUDO_USER, NOSUDO_USER, PASSWORD_USER]) {
    if (!userExists(user)) {
      try {
        execFileSync('useradd', ['-m', '-s', '/bin/sh', user], { stdio: 'pipe' });
      } catch (e) {
        if (!userExists(user)) throw e; // another test file created it meanwhile
      }
    }
    // A locked account ('!') is refused when UsePAM is off; '*' allows key login only.
    if (user === PASSWORD_USER) execFileSync('chpasswd', { input: `${user}:${USER_PASSWORD}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
    else execFileSync('usermod', ['-p', '*', user], { stdio: 'pipe' });
  }
  const sudoers = '/etc/sudoers.d/lsbackup-test';
  const rule = `${SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n${PASSWORD_USER} ALL=(ALL:ALL) ALL\n`;
  let current = '';
  try {
    current = readFileSync(sudoers, 'utf8');
  } catch {
    /* not there yet */
  }
  if (current !== rule) {
    // A per-process temp name: test files start fleets concurrently. sudo skips names with a dot.
    const tmp = `${sudoers}.tmp-${process.pid}`;
    writeFileSync(tmp, rule, { mode: 0o440 });
    execFileSync('mv', [tmp, sudoers]);
  }
}

function userExists(user: string): boolean {
  try {
    execFileSync('id', [user], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Where an sshd runs: by default in this network namespace on a free port of `address`. */
export interface SshdPlacement {
  /** A network namespace (`ip netns exec`); there every port is free, so `port` is required. */
  netns?: string;
  port: number;
}

export async function startSshd(
  dir: string,
  name: string,
  address: string,
  authorizedKeys: string,
  logLevel: string,
  placement?: SshdPlacement,
  mountSetup?: string,
) {
  requireIntegrationTier(`an sshd (${name})`);
  const hostDir = join(dir, name);
  mkdirSync(hostDir);
  const hostKey = join(hostDir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const port = placement?.port ?? (await freePort(address));
  const config = join(hostDir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${address}`,
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(hostDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin no',
      'AllowTcpForwarding yes',
      `LogLevel ${logLevel}`,
      'Subsystem sftp internal-sftp',
      `Match User ${PASSWORD_USER}`,
      '  PasswordAuthentication yes',
      '',
    ].join('\n'),
  );
  // -D keeps sshd in the foreground, so the PID we hold is the listener's.
  const logFile = join(hostDir, 'sshd.log');
  const sshd = ['/usr/sbin/sshd', '-D', '-f', config, '-E', logFile];
  // `ip netns exec` execs sshd after entering the namespace: the PID stays sshd's.
  const placed = placement?.netns ? ['ip', 'netns', 'exec', placement.netns, ...sshd] : sshd;
  // unshare and sh exec in turn: the PID stays sshd's here too.
  const argv = mountSetup ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-ec', `${mountSetup}\nexec "$@"`, 'sh', ...placed] : placed;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`sshd ${name} exited with ${code}: ${tail(join(hostDir, 'sshd.log'))}`))),
  );
  exited.catch(() => {});
  await Promise.race([waitForPort(address, port), exited]);
  const hostPublicKey = readFileSync(hostKey + '.pub', 'utf8')
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .join(' ');
  const hostKeyFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', hostKey + '.pub'], { encoding: 'utf8' }).split(/\s+/)[1]!;
  const host: FleetHost = { name, address, port, pid: child.pid!, hostKeyFingerprint, hostPublicKey, logFile };
  return { host, child };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(address: string, port: number): Promise<void> {
  // A hang detector, not a speed check: under load (20+ on 2 cores) sshd took over 10 s to listen.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${address}:${port} did not start`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stops one sshd and the per-connection children it forked, all by PID. */
export async function stopSshd(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const descendants = childPids(pid);
  for (const p of [pid, ...descendants]) {
    try {
      process.kill(p, 'SIGCONT');
      process.kill(p, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      resolve();
    }, 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Children, grandchildren, ... of `root` (breadth first). */
function descendantPids(root: number): number[] {
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0;) {
    const next = queue.flatMap((p) => childPids(p));
    found.push(...next);
    queue = next;
  }
  return found;
}

function childPids(parent: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, ppid]) => ppid === parent)
    .map(([pid]) => pid!);
}

export function writeInventory(dir: string, hosts: FleetHost[], groupsByHost: Record<string, string[]>, clientKey: string, knownHosts: string): string {
  const byGroup = new Map<string, FleetHost[]>();
  for (const host of hosts) {
    for (const group of groupsByHost[host.name] ?? []) {
      byGroup.set(group, [...(byGroup.get(group) ?? []), host]);
    }
  }
  const lines: string[] = [];
  for (const [group, members] of byGroup) {
    lines.push(`[${group}]`);
    for (const h of members) lines.push(`${h.name} ansible_host=${h.address} ansible_port=${h.port}`);
    lines.push('');
  }
  lines.push(
    '[all:vars]',
    `ansible_user=${SUDO_USER}`,
    `ansible_ssh_private_key_file=${clientKey}`,
    `ansible_ssh_common_args='-o UserKnownHostsFile=${knownHosts}'`,
    '',
  );
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'inventory');
  writeFileSync(file, lines.join('\n'));
  return file;
}
