/**
 * An exclusive lock as a file created with O_EXCL, holding who took it (pid, hostname, the
 * process's start time, the command). A lock whose holder is provably gone — same hostname,
 * and the pid is dead or now belongs to a process started at another time — is stale and
 * taken over with a warning. A holder on another machine can not be checked: it is waited for.
 * In a directory shared by several users (sticky, as /run/lock/lsbackup) a user cannot remove another's
 * lock: a stale one it cannot remove fails the run naming the file and who can remove it.
 */
import { constants, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sleepUnlessAborted } from '../abortable-sleep.js';
import { LsError } from '../errors.js';

export interface LockOwner {
  pid: number;
  hostname: string;
  /** The user the holder runs as (absent in records of older versions). */
  user?: string;
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
  /** What the operator can do when the lock file cannot be written (default: free space, fix permissions). */
  fix?: string;
  /** Makes the lock's directory when it is missing (default: private to this user, 0700). */
  makeDir?: (dir: string) => Promise<void>;
  /**
   * A lock kept for other versions' runs only: taken and honoured where this user may write its
   * directory, skipped where it may not or the directory is missing (no run of this user could
   * have written it there either). Its directory is not made.
   */
  skipIfUnwritable?: boolean;
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
  return `pid ${o.pid} on ${o.hostname}${o.user ? ` (user ${o.user})` : ''} since ${o.acquiredAt} (${o.command})`;
}

/** The user this process runs as: its name, or its uid when the system has no name for it (a container's random uid). */
function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/**
 * The owner record in `file`; undefined when it is gone, being written, or not ours. Not read
 * through a symbolic link: in a directory every user can write, one could point at any file.
 */
export async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return JSON.parse(await handle.readFile('utf8')) as LockOwner;
    } finally {
      await handle.close();
    }
  } catch {
    return undefined; // gone meanwhile, or being written: look again
  }
}

interface LockInQuestion {
  file: string;
  what: string;
  owner: string;
  /** Why its holder is gone. */
  reason: string;
}

/**
 * A lock file (or the guard of a takeover) that is not ours and may not be removed: in a sticky
 * directory (/run/lock/lsbackup) only its owner and root may. The run cannot go on, and waiting would not help.
 */
async function cannotRemove(file: string, lock: LockInQuestion, e: NodeJS.ErrnoException): Promise<LsError> {
  const fileOwner = await stat(file).then(
    (s) => `uid ${s.uid}`,
    () => 'another user',
  );
  return new LsError('ELOCKSTALE', { ...lock, file, user: currentUser(), fileOwner, code: e.code }, { cause: e });
}

const notAllowed = (e: NodeJS.ErrnoException) => e.code === 'EPERM' || e.code === 'EACCES';

/** Removes a lock file (or a takeover's guard) whose writer is gone. */
async function removeAbandoned(file: string, lock: LockInQuestion): Promise<void> {
  await rm(file, { force: true }).catch(async (e: NodeJS.ErrnoException) => {
    throw notAllowed(e) ? await cannotRemove(file, lock, e) : e;
  });
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
    handle = await open(file, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    // Readable by every user, whatever the umask (a systemd unit's 0077): a run of another user
    // must see who holds the lock, or it cannot tell a live holder from a half-written file.
    await handle.chmod(0o644);
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
async function takeOver(file: string, stale: LockOwner, self: LockOwner, what: string, reason: string): Promise<void> {
  const guard = `${file}.takeover`;
  const lock: LockInQuestion = { file, what, owner: describeOwner(stale), reason };
  if ((await ageMs(guard)) > TAKEOVER_STALE_MS)
    await removeAbandoned(guard, { ...lock, reason: `a takeover abandoned by its taker, and before that: ${reason}` });
  if (!(await tryCreate(guard, self))) return;
  try {
    const now = await readOwner(file);
    if (now && now.pid === stale.pid && now.hostname === stale.hostname && now.acquiredAt === stale.acquiredAt) {
      // rename first: an unlink by path could hit a lock created after our read.
      const aside = `${file}.stale-${process.pid}`;
      const renamed = await rename(file, aside).then(
        () => true,
        async (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return false; // taken away meanwhile: look again
          throw notAllowed(e) ? await cannotRemove(file, lock, e) : e;
        },
      );
      if (renamed) await rm(aside, { force: true });
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
    user: currentUser(),
    processStart: processStartMs(process.pid),
    acquiredAt: new Date().toISOString(),
    command: process.argv.slice(2, 3).join(' ') || 'lsbackup',
  };
}

export async function acquireLock(file: string, options: LockOptions): Promise<HeldLock> {
  const cannotWrite = (e: unknown) =>
    new LsError('ELOCKFILE', { what: options.what, file, message: (e as Error).message, fix: options.fix ?? readOnlyFix(e, file) }, { cause: e });
  if (!options.skipIfUnwritable) {
    await (options.makeDir ?? makePrivateDir)(path.dirname(file)).catch((e: unknown) => {
      throw cannotWrite(e);
    });
  }
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
    const created = await tryCreate(file, self).catch((e: NodeJS.ErrnoException) => {
      free();
      if (options.skipIfUnwritable && (notAllowed(e) || e.code === 'EROFS' || e.code === 'ENOENT')) return 'skipped' as const;
      throw cannotWrite(e);
    });
    if (created === 'skipped') return { file, release: async () => {} };
    if (created) return { file, release: () => rm(file, { force: true }).finally(free) };
    free();
    const owner = await readOwner(file);
    if (!owner && (await ageMs(file)) > TAKEOVER_STALE_MS) {
      // Empty or garbled for a long time: its writer died between create and write.
      options.onWarning?.(`removing the unreadable lock file ${file} of ${options.what}`);
      await removeAbandoned(file, { file, what: options.what, owner: 'an unknown process', reason: 'its file has been unreadable for 30 s' });
      continue;
    }
    if (owner) {
      const stale = staleReason(owner);
      if (stale) {
        options.onWarning?.(`taking over the stale lock of ${options.what} (${file}): ${stale} (${describeOwner(owner)})`);
        await takeOver(file, owner, self, options.what, stale);
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

/** A read-only file system is not fixed by freeing space or by permissions (the default advice). */
function readOnlyFix(e: unknown, file: string): string | undefined {
  if ((e as NodeJS.ErrnoException).code !== 'EROFS') return undefined;
  return `${path.dirname(file)} is on a file system mounted read-only: mount it read-write and run again.`;
}

async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
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
