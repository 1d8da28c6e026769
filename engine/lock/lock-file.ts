/**
 * An exclusive lock as a file created with O_EXCL, holding who took it (pid, hostname, the
 * process's start time, the command). A lock whose holder is provably gone — same hostname,
 * and the pid is dead or now belongs to a process started at another time — is stale and
 * taken over with a warning. A holder on another machine can not be checked: it is waited for.
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sleepUnlessAborted } from '../abortable-sleep.js';
import { LsError } from '../errors.js';

export interface LockOwner {
  pid: number;
  hostname: string;
  /** When the holding process started (ms since epoch, from /proc), to tell a reused pid apart. */
  processStart?: number;
  acquiredAt: string;
  command: string;
}

export interface LockOptions {
  /** What the lock protects, for messages ("target /backups", "cluster prod"). */
  what: string;
  /** How long to wait for a live holder; 0 fails at once. */
  waitMs: number;
  onWarning?: (message: string) => void;
  /** Poll interval while waiting. */
  pollMs?: number;
  /** The run's stop (SIGTERM, SIGINT, SIGHUP, the scheduler stopping): ends a wait at once. */
  signal?: AbortSignal;
}

export interface HeldLock {
  file: string;
  release(): Promise<void>;
}

/** A half-done takeover older than this is itself abandoned (its taker died mid-way). */
const TAKEOVER_STALE_MS = 30_000;

/**
 * Locks this process holds (file -> released). Runs in one process (the scheduler's jobs) wait
 * for each other here instead of failing on a lock whose holder is themselves.
 */
const heldHere = new Map<string, Promise<void>>();

/** Start time of a process from /proc (Linux); undefined elsewhere or when it is gone. */
export function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, clock ticks since boot) counted after the ')' closing the command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + (ticks * 1000) / 100 : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the holder is gone, or undefined when it may still be running. */
export function staleReason(owner: LockOwner): string | undefined {
  if (owner.hostname !== os.hostname()) return undefined;
  if (!pidAlive(owner.pid)) return `process ${owner.pid} is gone`;
  const start = processStartMs(owner.pid);
  // Clock-tick rounding: allow a second of difference before calling it another process.
  if (owner.processStart !== undefined && start !== undefined && Math.abs(start - owner.processStart) > 1000) {
    return `pid ${owner.pid} now belongs to another process`;
  }
  return undefined;
}

function describeOwner(o: LockOwner): string {
  return `pid ${o.pid} on ${o.hostname} since ${o.acquiredAt} (${o.command})`;
}

/** The owner record in `file`; undefined when it is gone, being written, or not ours. */
export async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockOwner;
  } catch {
    return undefined; // gone meanwhile, or being written: look again
  }
}

/** How old a file is; -1 when it does not exist. */
async function ageMs(file: string): Promise<number> {
  return stat(file).then(
    (s) => Date.now() - s.mtimeMs,
    () => -1,
  );
}

async function tryCreate(file: string, owner: LockOwner): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await handle.writeFile(JSON.stringify(owner) + '\n');
    await handle.sync();
  } catch (e) {
    // Ours and ownerless (a full disk takes the name but not the record): left, it would hold
    // every later run off as an unreadable lock.
    await handle.close().catch(() => {});
    await rm(file, { force: true });
    throw e;
  }
  await handle.close();
  return true;
}

/**
 * Removes a stale lock, guarded by a `.takeover` file so two runs that both saw the same stale
 * lock cannot remove each other's fresh one: only the taker that holds the guard re-reads the
 * lock and removes it if it is still the stale one.
 */
async function takeOver(file: string, stale: LockOwner, self: LockOwner): Promise<void> {
  const guard = `${file}.takeover`;
  if ((await ageMs(guard)) > TAKEOVER_STALE_MS) await rm(guard, { force: true });
  if (!(await tryCreate(guard, self))) return;
  try {
    const now = await readOwner(file);
    if (now && now.pid === stale.pid && now.hostname === stale.hostname && now.acquiredAt === stale.acquiredAt) {
      // rename first: an unlink by path could hit a lock created after our read.
      const aside = `${file}.stale-${process.pid}`;
      await rename(file, aside).catch(() => {});
      await rm(aside, { force: true });
    }
  } finally {
    await rm(guard, { force: true });
  }
}

/** This process as the owner of a lock (or of anything else staleReason() should judge later). */
export function currentOwner(): LockOwner {
  return {
    pid: process.pid,
    hostname: os.hostname(),
    processStart: processStartMs(process.pid),
    acquiredAt: new Date().toISOString(),
    command: process.argv.slice(2, 3).join(' ') || 'lsbackup',
  };
}

export async function acquireLock(file: string, options: LockOptions): Promise<HeldLock> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const self = currentOwner();
  const deadline = Date.now() + options.waitMs;
  let announced = false;
  for (;;) {
    stopIfAborted(options);
    const held = heldHere.get(file);
    if (held) {
      await held;
      continue;
    }
    // Reserved before trying (no await in between): one try per file at a time in this process.
    let released!: () => void;
    heldHere.set(file, new Promise<void>((resolve) => (released = resolve)));
    const free = () => {
      heldHere.delete(file);
      released();
    };
    const created = await tryCreate(file, self).catch((e: unknown) => {
      free();
      throw new LsError('ELOCKFILE', { what: options.what, file, message: (e as Error).message }, { cause: e });
    });
    if (created) return { file, release: () => rm(file, { force: true }).finally(free) };
    free();
    const owner = await readOwner(file);
    if (!owner && (await ageMs(file)) > TAKEOVER_STALE_MS) {
      // Empty or garbled for a long time: its writer died between create and write.
      options.onWarning?.(`removing the unreadable lock file ${file} of ${options.what}`);
      await rm(file, { force: true });
      continue;
    }
    if (owner) {
      const stale = staleReason(owner);
      if (stale) {
        options.onWarning?.(`taking over the stale lock of ${options.what} (${file}): ${stale} (${describeOwner(owner)})`);
        await takeOver(file, owner, self);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LsError('ELOCKED', { what: options.what, file, owner: describeOwner(owner), waitedMs: options.waitMs });
      }
      if (!announced) {
        options.onWarning?.(`${options.what} is locked by ${describeOwner(owner)}; waiting up to ${Math.round(options.waitMs / 1000)} s`);
        announced = true;
      }
    }
    await sleepUnlessAborted(options.pollMs ?? 500, options.signal);
  }
}

/**
 * A stop while waiting ends the wait: nothing has started, so there is nothing to clean up.
 * Before, the wait went on to its end (--lock-wait, up to hours), past systemd's and
 * Kubernetes' stop timeouts into their SIGKILL.
 */
function stopIfAborted(options: LockOptions): void {
  if (!options.signal?.aborted) return;
  throw new LsError('EINTERRUPTED', {
    signal: String(options.signal.reason ?? 'a signal'),
    cleanedUp: `nothing was started: it was waiting for the lock of ${options.what}`,
  });
}
