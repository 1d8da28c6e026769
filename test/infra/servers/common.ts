/**
 * Shared machinery for the real test servers: free ports, temp dirs (owned by the
 * service user when needed), bounded waiting until a server answers, and stopping by
 * PID / process group — on stop() and, as a last resort, when the test process exits.
 * Every server binds 127.0.0.1 only (test/infra/README.md).
 */
import { spawn, execFileSync, type SpawnOptions } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, mkdir, rm, readFile, writeFile, chown, access } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireIntegrationTier } from '../../helpers/tier.js';

export const LOOPBACK = '127.0.0.1';

/** What every started server hands back. Specific servers add ports, urls and helpers. */
export interface RunningServer {
  /** PID of the server's main process (the one stop() ends). */
  pid: number;
  /** Directory holding everything of this server (data, config, logs, sockets). */
  baseDir: string;
  dataDir: string;
  configDir: string;
  logFile: string;
  /** Stops the server and waits until its processes are gone; removes baseDir if it was made here. */
  stop(): Promise<void>;
}

/** Options every start…() accepts. */
export interface BaseServerOptions {
  /**
   * Use this directory instead of a fresh temp dir. It is never deleted by stop(), so a
   * test can stop a server, change its files (e.g. restore) and start it again on them.
   */
  baseDir?: string;
  /** Bound for "the server answers", in ms. */
  startTimeoutMs?: number;
}

// ---------- ports ----------

/** A port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export async function freePort(host = LOOPBACK): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/**
 * A free port below the ephemeral range (32768–60999 here), for a server a test stops and starts
 * again on the same port (a restore's stop/start): while it is down, an outgoing connection of a
 * parallel test can take a port of the ephemeral range and the restarted server cannot bind it.
 */
export async function freePortOutsideEphemeral(host = LOOPBACK): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, host, () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 20000-31999');
}

/** n distinct free ports. They are held open together so the OS cannot hand out one twice. */
export async function freePorts(n: number, host = LOOPBACK): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const srv = createServer();
          srv.on('error', reject);
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---------- directories ----------

/** A service account's uid/gid, from the passwd database. */
export function userIds(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * A base dir for one server: a fresh temp dir (removed on stop) or the caller's dir (kept).
 * When `owner` is given, the dir is chowned so a server running as that user can use it.
 */
export async function prepareBaseDir(name: string, opts: BaseServerOptions, owner?: string): Promise<{ baseDir: string; ownedHere: boolean }> {
  requireIntegrationTier(`a test server (${name})`);
  const ownedHere = !opts.baseDir;
  if (ownedHere) await reapOrphansOnce();
  const baseDir = opts.baseDir ?? (await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${name}-`)));
  await mkdir(baseDir, { recursive: true });
  if (ownedHere) await writeFile(join(baseDir, OWNER_FILE), `${process.pid}\n`);
  if (owner) await chownTree(baseDir, owner);
  return { baseDir, ownedHere };
}

const TEMP_PREFIX = 'lsb-infra-';
const OWNER_FILE = '.owner-pid';
let reaped: Promise<unknown> | undefined;
const reapOrphansOnce = () => (reaped ??= reapOrphans());

/**
 * Daemonized servers (postgres, haproxy, rabbitmq) leave our process group, so a test
 * process killed with SIGKILL cannot take them along. The next run cleans up: every
 * temp dir of ours whose owner process is gone has its processes killed and is removed.
 */
export async function reapOrphans(root = tmpdir()): Promise<string[]> {
  const reapedDirs: string[] = [];
  for (const entry of readdirSync(root)) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = join(root, entry);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8').trim());
    } catch {
      continue; // not made by prepareBaseDir (or being made right now)
    }
    if (!owner || isAlive(owner)) continue;
    for (const pid of processesMentioning(dir)) signalTree(pid, 'SIGKILL');
    for (let i = 0; i < 50 && processesMentioning(dir).length > 0; i++) await sleep(50);
    await rm(dir, { recursive: true, force: true });
    reapedDirs.push(dir);
  }
  return reapedDirs;
}

/** mkdir -p for several dirs under a base, optionally owned by a service user. */
export async function makeDirs(dirs: string[], owner?: string): Promise<void> {
  for (const d of dirs) await mkdir(d, { recursive: true });
  if (owner) for (const d of dirs) await chownTree(d, owner);
}

/** chown -R, so a server that runs as a service user can write what root prepared. */
export async function chownTree(path: string, owner: string): Promise<void> {
  const { uid, gid } = userIds(owner);
  await chown(path, uid, gid);
  execFileSync('chown', ['-R', `${uid}:${gid}`, path]);
}

export function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

// ---------- processes ----------

const tracked = new Set<number>();
let exitHookInstalled = false;

/**
 * When each server PID we track started (field 22 of /proc/<pid>/stat). PIDs wrap quickly on a
 * busy machine (pid_max 32768): a server stopped by a recipe under test frees its PID, and
 * signalling that PID (or its process group) later would hit an unrelated process. Every
 * signal to a tracked PID is checked against this first.
 */
const startTimes = new Map<number, string>();

export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** False when `pid` now belongs to a different process than the one we started. */
function stillOurs(pid: number): boolean {
  const recorded = startTimes.get(pid);
  if (recorded === undefined) return true;
  const now = startTimeOf(pid);
  // Gone: its group may live on (daemon children), which group signalling still reaches.
  return now === undefined || now === recorded;
}

/** Makes sure `pid` (and its process group, if it leads one) dies when this process exits. */
export function killAtExit(pid: number): void {
  tracked.add(pid);
  const started = startTimeOf(pid);
  if (started !== undefined && !startTimes.has(pid)) startTimes.set(pid, started);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const p of tracked) signalTree(p, 'SIGKILL');
  };
  // 'exit' handlers must be synchronous: SIGKILL is the only thing left to do there.
  process.on('exit', killAll);
  // A signal skips 'exit': clean up, then die of the same signal as if we had not listened.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

/** Signal a process group led by pid, or just the pid if it leads none. Never throws. */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  if (!stillOurs(pid)) return;
  try {
    process.kill(-pid, signal);
    return;
  } catch {
    /* not a group leader (or gone) */
  }
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill(0); it is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Ends a process (group): `signal` first, SIGKILL after `graceMs`, and waits until every
 * process of the group is gone. Safe to call twice.
 */
export async function killAndWait(pid: number, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
  const { signal = 'SIGTERM', graceMs = 10_000 } = opts;
  // A reused PID is somebody else's process (and process group): nothing of ours is left there.
  const members = () => (stillOurs(pid) ? [pid, ...groupMembers(pid)].filter(isAlive) : []);
  if (members().length > 0) {
    signalTree(pid, signal);
    const deadline = Date.now() + graceMs;
    while (members().length > 0 && Date.now() < deadline) await sleep(50);
    for (const p of members()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const killDeadline = Date.now() + 5_000;
    while (members().length > 0) {
      if (Date.now() > killDeadline) throw new Error(`processes ${members().join(', ')} survive SIGKILL (stuck in the kernel?)`);
      await sleep(20);
    }
  }
  tracked.delete(pid);
  startTimes.delete(pid);
}

/** PIDs whose process group is `pgid` (from /proc). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(entry));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/**
 * PIDs of live processes that mention `text` in their command line or whose working
 * directory is inside it — how tests prove a server left nothing behind in its temp dir.
 */
export function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        /* kernel threads */
      }
      if ((cmd.includes(text) || cwd.startsWith(text)) && isAlive(Number(entry))) out.push(Number(entry));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/** Who runs a command: this process, or a service user via runuser (keeping `env` whole with keepEnv). */
export interface RunAs {
  user?: string;
  /** runuser -p: keep HOME etc. from `env` instead of the user's own (e.g. RabbitMQ's cookie dir). */
  keepEnv?: boolean;
}

function asUser(command: string, args: string[], who: RunAs): [string, string[]] {
  if (!who.user) return [command, args];
  return ['runuser', [...(who.keepEnv ? ['-p'] : []), '-u', who.user, '--', command, ...args]];
}

export interface SpawnServerOptions extends RunAs {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
}

/**
 * Starts a long-running server as a child in its own process group (so stop() can end it
 * and everything it forks), output to a log file, killed at exit if the test forgets.
 */
export function spawnServer(command: string, args: string[], opts: SpawnServerOptions): number {
  requireIntegrationTier(`a server process (${command})`);
  const [cmd, argv] = asUser(command, args, opts);
  const fd = openSync(opts.logFile, 'a');
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  };
  const child = spawn(cmd, argv, spawnOpts);
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  child.unref();
  killAtExit(child.pid);
  return child.pid;
}

/** Runs a short command to completion; throws with its output when it fails. */
export function runChecked(
  command: string,
  args: string[],
  opts: RunAs & { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const [cmd, argv] = asUser(command, args, opts);
  return new Promise((resolve, reject) => {
    const stdin = opts.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(cmd, argv, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${[command, ...args].join(' ')} failed (${signal ?? `exit ${code}`}):\n${stderr || stdout}`));
    });
    // A command may exit without reading its input; that is its answer, not our crash.
    child.stdin?.on('error', () => undefined).end(opts.input);
  });
}

export async function readPidFile(path: string): Promise<number> {
  const pid = Number((await readFile(path, 'utf8')).split('\n')[0]!.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in ${path}`);
  return pid;
}

// ---------- waiting ----------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns true, at most `timeoutMs`. On timeout throws an error
 * naming `what` with the tail of the server log, so a failed start explains itself.
 * `alivePid`: stop early if that process died.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs?: number; logFile?: string; alivePid?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    if (opts.alivePid !== undefined && !isAlive(opts.alivePid)) {
      throw new Error(`${what}: the process exited during start-up\n${await logTail(opts.logFile)}`);
    }
    await sleep(100);
  }
  throw new Error(
    `${what}: no answer within ${opts.timeoutMs ?? 120_000} ms${lastError ? ` (last error: ${String(lastError)})` : ''}\n${await logTail(opts.logFile)}`,
  );
}

export async function logTail(logFile?: string, lines = 30): Promise<string> {
  if (!logFile) return '';
  try {
    return `--- ${logFile} (tail) ---\n` + (await readFile(logFile, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** True once something accepts TCP connections on host:port. */
export function tcpAnswers(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host });
    sock.setTimeout(1000);
    sock.on('connect', () => (sock.destroy(), resolve(true)));
    sock.on('error', () => resolve(false));
    sock.on('timeout', () => (sock.destroy(), resolve(false)));
  });
}

/** True once GET url answers 2xx. */
export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}

/** The stop() shared by all servers: end the process (group), then drop the temp dir. */
export function makeStop(
  pid: number,
  baseDir: string,
  ownedHere: boolean,
  opts: { signal?: NodeJS.Signals; before?: () => Promise<void>; extraPids?: () => number[] } = {},
): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () =>
    (stopped ??= (async () => {
      if (opts.before) await opts.before().catch(() => undefined); // graceful path; the kill below is the guarantee
      await killAndWait(pid, { signal: opts.signal });
      for (const p of opts.extraPids?.() ?? []) await killAndWait(p);
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    })());
}

/**
 * The start sequence of a foreground server: spawn it in its own process group, wait
 * (bounded) until `ready` answers, and on a failed start stop it before rethrowing.
 */
export async function launchServer(o: {
  what: string;
  command: string;
  args: string[];
  baseDir: string;
  ownedHere: boolean;
  logFile: string;
  ready: () => Promise<boolean>;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}): Promise<{ pid: number; stop: () => Promise<void> }> {
  const pid = spawnServer(o.command, o.args, { logFile: o.logFile, cwd: o.baseDir, env: o.env });
  const stop = makeStop(pid, o.baseDir, o.ownedHere);
  try {
    await waitUntil(o.what, o.ready, { timeoutMs: o.timeoutMs, logFile: o.logFile, alivePid: pid });
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid, stop };
}

/** Writes one request to a TCP or Unix socket and reads until the peer closes (4lw, stats sockets). */
export function socketRequest(to: { port: number; host?: string } | { path: string }, request: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = 'path' in to ? { path: to.path } : { port: to.port, host: to.host ?? LOOPBACK };
    const sock = connect(target, () => sock.write(request));
    let answer = '';
    sock.setEncoding('utf8');
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`${JSON.stringify(to)}: no answer within ${timeoutMs} ms`)));
    sock.on('data', (d: string) => (answer += d));
    sock.on('close', () => resolve(answer));
    sock.on('error', reject);
  });
}
