/**
 * Two (or more) SSH hosts, each in its own Linux network namespace, joined to the root
 * namespace by a bridge: a real network between lsbackup and its hosts, so a test can cut a
 * host's link (`ip link set <veth> down`: no FIN, no RST, packets simply vanish) and restore it.
 *
 * Addresses: one private 10.77.X.0/24 picked per run (X random, not already routed here);
 * the bridge is .1 and host i is .(11+i). Only these addresses are ever used.
 * Each sshd reuses the fleet's conventions (test/fleet/fleet.ts: users, keys, config).
 *
 * teardown() deletes the namespaces, veths and bridge and stops every sshd by PID; call it
 * from afterAll. If the test process dies first, an exit/signal hook does the same (best
 * effort), and the next startNetnsFleet() removes what a SIGKILLed run left (see reapStale).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAtExit, startTimeOf } from '../infra/servers/common.js';
import { prepareFleetDir, startSshd, stopSshd, writeInventory, type FleetHost } from './fleet.js';
import { requireIntegrationTier } from '../helpers/tier.js';

export interface NetnsFleet {
  dir: string;
  /** The bridge in the root namespace (`lsb` + random hex). */
  bridge: string;
  hosts: FleetHost[];
  clientKey: string;
  knownHosts: string;
  /** Link of host i down: its packets are dropped from now on. */
  cut(i: number): void;
  restore(i: number): void;
  /** Shapes what host i sends (tc tbf on its eth0), e.g. '16mbit': a large transfer then lasts long enough to be cut. */
  throttle(i: number, rate: string): void;
  /** Bytes host i has sent on its link so far (all frames, as the kernel counts them on the bridge side). */
  sentBytes(i: number): number;
  /** Bytes host i has received on its link so far (counted the same way). */
  receivedBytes(i: number): number;
  /** Idempotent; never throws. */
  teardown(): Promise<void>;
  /** The fleet's INI inventory (test/fleet/fleet.ts) for these hosts. */
  writeInventory(dir: string, groupsByHost: Record<string, string[]>): string;
}

/** What one run created, recorded so a later run can remove it if this process is SIGKILLed. */
interface NetnsRecord {
  pid: number;
  /** /proc/<pid>/stat start time, so a reused pid is not mistaken for the creator. */
  started: string | undefined;
  bridge: string;
  namespaces: string[];
  veths: string[];
  sshdPids: number[];
  dir: string;
}

const RECORDS = '/run/lsbackup-test-netns';
// Not 22: known_hosts then spells the host '[address]:port' like the rest of the fleet.
const SSH_PORT = 2222;

/** Why network namespaces cannot be used here, or undefined when they can (root, iproute2). */
export function netnsUnavailable(): string | undefined {
  const probe = `lsbprobe${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `'ip netns add' refused: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()}`;
  }
}

export async function startNetnsFleet(options: { hosts: number }): Promise<NetnsFleet> {
  requireIntegrationTier('an sshd fleet in network namespaces');
  reapStale();
  const id = randomBytes(3).toString('hex');
  const bridge = `lsb${id}`;
  const subnet = `10.77.${freeThirdOctet()}`;
  const dir = mkdtempSync(join(tmpdir(), 'lsb-netns-'));
  const record: NetnsRecord = { pid: process.pid, started: startTimeOf(process.pid), bridge, namespaces: [], veths: [], sshdPids: [], dir };
  const children: ChildProcess[] = [];
  const save = () => {
    mkdirSync(RECORDS, { recursive: true, mode: 0o700 });
    writeFileSync(join(RECORDS, `${bridge}.json`), JSON.stringify(record));
  };
  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    await Promise.all(children.map((c) => stopSshd(c)));
    removeNetwork(record);
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(RECORDS, `${bridge}.json`), { force: true });
  };
  onProcessDeath(() => {
    if (tornDown) return;
    for (const pid of record.sshdPids) kill(pid);
    removeNetwork(record);
    rmSync(join(RECORDS, `${bridge}.json`), { force: true });
  });
  try {
    save();
    const { clientKey, authorizedKeys } = prepareFleetDir(dir);
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    const hosts: FleetHost[] = [];
    for (let i = 0; i < options.hosts; i++) {
      const ns = `${bridge}-h${i + 1}`;
      const veth = `${bridge}h${i + 1}`;
      record.namespaces.push(ns);
      save();
      ip('netns', 'add', ns);
      record.veths.push(veth);
      save();
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', veth, 'master', bridge, 'up');
      const address = `${subnet}.${11 + i}`;
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      const { host, child } = await startSshd(dir, `host${i + 1}`, address, authorizedKeys, 'VERBOSE', { netns: ns, port: SSH_PORT });
      children.push(child);
      record.sshdPids.push(host.pid);
      killAtExit(host.pid);
      save();
      hosts.push(host);
    }
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, hosts.map((h) => `[${h.address}]:${h.port} ${h.hostPublicKey}\n`).join(''));
    const vethOf = (i: number) => {
      const veth = record.veths[i];
      if (!veth) throw new Error(`netns fleet has no host ${i}`);
      return veth;
    };
    return {
      dir,
      bridge,
      hosts,
      clientKey,
      knownHosts,
      cut: (i) => ip('link', 'set', vethOf(i), 'down'),
      restore: (i) => ip('link', 'set', vethOf(i), 'up'),
      throttle: (i, rate) => {
        vethOf(i);
        tool('tc', '-n', record.namespaces[i]!, 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', rate, 'burst', '32kb', 'latency', '400ms');
      },
      // The root-side end of a veth receives exactly what the host's eth0 transmits.
      sentBytes: (i) => Number(readFileSync(`/sys/class/net/${vethOf(i)}/statistics/rx_bytes`, 'utf8')),
      receivedBytes: (i) => Number(readFileSync(`/sys/class/net/${vethOf(i)}/statistics/tx_bytes`, 'utf8')),
      teardown,
      writeInventory: (target, groupsByHost) => writeInventory(target, hosts, groupsByHost, clientKey, knownHosts),
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}

const ip = (...args: string[]) => tool('ip', ...args);

/** Runs ip/tc; a failure throws with the command and its stderr. */
function tool(command: string, ...args: string[]): void {
  try {
    execFileSync(command, args, { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${command} ${args.join(' ')}: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()}`);
  }
}

/** Deletes namespaces, veths and the bridge; whatever is already gone is skipped. Synchronous (exit hooks). */
function removeNetwork(record: NetnsRecord): void {
  const quiet = (...args: string[]) => {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  };
  // Deleting a namespace also deletes the veth peer inside it, which takes its root-side end along.
  for (const ns of record.namespaces) quiet('netns', 'del', ns);
  for (const veth of record.veths) quiet('link', 'del', veth);
  quiet('link', 'del', record.bridge);
}

/** A third octet X whose 10.77.X.0/24 is not routed here yet (another run may hold one). */
function freeThirdOctet(): number {
  const routes = execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' });
  for (let attempt = 0; attempt < 50; attempt++) {
    const x = 1 + Math.floor(Math.random() * 254);
    if (!routes.includes(`10.77.${x}.`)) return x;
  }
  throw new Error('no free 10.77.X.0/24 subnet found');
}

/** Removes what earlier runs recorded and could not remove themselves (their process is gone). */
function reapStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync(RECORDS).filter((n) => n.endsWith('.json'));
  } catch {
    return;
  }
  for (const name of names) {
    const file = join(RECORDS, name);
    let record: NetnsRecord;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as NetnsRecord;
    } catch {
      continue; // being written by a live run
    }
    if (startTimeOf(record.pid) !== undefined && startTimeOf(record.pid) === record.started) continue; // still running
    // An sshd pid is only killed while it still runs that run's config (the pid may be reused).
    for (const pid of record.sshdPids) if (cmdline(pid).includes(record.dir)) kill(pid);
    removeNetwork(record);
    rmSync(record.dir, { recursive: true, force: true });
    rmSync(file, { force: true });
  }
}

function onProcessDeath(cleanup: () => void): void {
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      // Listening disabled the default of dying; die of it unless another hook will re-raise it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
