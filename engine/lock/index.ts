/**
 * Locks that keep two runs from colliding: one per target (backups, restores reading it,
 * retention pruning it) and one per cluster (two backups or a backup and a restore of the same
 * hosts). Take them with the helpers here; the catalog's prune should call withTargetLock.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Target } from '../../targets/types.js';
import { acquireLock, type HeldLock, type LockOptions } from './lock-file.js';

export { acquireLock, currentOwner, staleReason, processStartMs, type HeldLock, type LockOptions, type LockOwner } from './lock-file.js';
export { createOwnedTempDir, removeStaleTempDirs } from './owned-temp-dir.js';

export type LockSettings = Omit<LockOptions, 'what'>;

/**
 * Where the locks live that every lsbackup run on this machine must see, whichever user runs it
 * and whatever its $XDG_CACHE_HOME: the cluster locks, and those of targets without a directory.
 * Under a user's cache dir, the systemd unit's run (User=lsbackup) and an admin's `sudo lsbackup
 * apply` took two cluster locks and ran at once. lsbackup's own directory under /run/lock,
 * world-writable and sticky (no user removes another's lock): /run/lock itself is that on Debian
 * but root's 0755 on RHEL, where the unit's user could take no lock. It is made at boot by
 * deploy/systemd/tmpfiles.d/lsbackup.conf, and by a run that may (makeSharedDir).
 */
export const DEFAULT_MACHINE_LOCK_DIR = '/run/lock/lsbackup';

/** The machine's lock directory; LSBACKUP_LOCK_DIR names another (a container with a read-only root, whose one user has its /tmp). */
export function machineLockDir(): string {
  return path.resolve(process.env.LSBACKUP_LOCK_DIR || DEFAULT_MACHINE_LOCK_DIR);
}

/**
 * Where lsbackup 0.1.0 and older keep the locks of the default directory, under the same names.
 * Each such lock is taken there too, where this user may write (olderVersionsLock): an older
 * lsbackup still running after an upgrade (a `lsbackup schedule` not restarted) and this one
 * exclude each other. Where this user may not write it (RHEL's /run/lock, non-root), no older run
 * of this user could have taken it, and one of root's is still seen and waited for.
 */
const OLDER_VERSIONS_LOCK_DIR = path.dirname(DEFAULT_MACHINE_LOCK_DIR);

/** A lock in machineLockDir(); its name says whose it is, as the directory may be the system's (/tmp). */
const machineLockFile = (name: string) => path.join(machineLockDir(), `lsbackup-${name}.lock`);

/**
 * A missing lock directory, made for every user: sticky and world-writable (1777) whatever the
 * umask (a systemd unit's 0077 would make it private to the unit's user). One that exists is
 * left as it is: it may be an operator's (LSBACKUP_LOCK_DIR), and one another user may not write
 * fails the lock with machineLockFix's advice.
 */
async function makeSharedDir(dir: string): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  const made = await mkdir(dir, { mode: 0o1777 }).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return false;
      throw e;
    },
  );
  if (made) await chmod(dir, 0o1777);
  // In a directory every user can write, another could have put a link there to a directory of theirs.
  if (dir === DEFAULT_MACHINE_LOCK_DIR && !(await lstat(dir)).isDirectory()) {
    throw new Error(`${dir} is not a directory but a symbolic link or a file: remove it as root`);
  }
}

/**
 * What an operator does when a lock of machineLockDir() cannot be written. The tmpfiles.d line
 * is the one deploy/systemd/tmpfiles.d/lsbackup.conf ships for the default directory.
 */
function machineLockFix(): string {
  const dir = machineLockDir();
  return (
    `Every user who runs lsbackup on this machine takes these locks in ${dir}, so it must be writable by all of them: sticky and world-writable, mode 1777 ` +
    `(as root, put the line "d ${dir} 1777 root root -" in /etc/tmpfiles.d/lsbackup.conf and run systemd-tmpfiles --create lsbackup.conf, which makes it now and at every boot; docs/deploy.md). ` +
    `A systemd unit with ProtectSystem=strict needs ReadWritePaths=${dir === DEFAULT_MACHINE_LOCK_DIR ? OLDER_VERSIONS_LOCK_DIR : dir}. Or set LSBACKUP_LOCK_DIR to such a directory for every run.`
  );
}

interface LockToTake {
  file: string;
  what: string;
  /** The same lock where older versions take it (OLDER_VERSIONS_LOCK_DIR). */
  forOlderVersions?: boolean;
}

/** The lock an older lsbackup takes for the same thing, for a lock of the default machine directory. */
function olderVersionsLock(lock: LockToTake): LockToTake[] {
  if (machineLockDir() !== DEFAULT_MACHINE_LOCK_DIR || path.dirname(lock.file) !== DEFAULT_MACHINE_LOCK_DIR) return [];
  return [{ file: path.join(OLDER_VERSIONS_LOCK_DIR, path.basename(lock.file)), what: lock.what, forOlderVersions: true }];
}

/** How a lock is taken where it lives: the machine's directory is shared by every user. */
function placeOptions(lock: LockToTake): Partial<LockOptions> {
  if (lock.forOlderVersions) return { skipIfUnwritable: true };
  if (path.dirname(lock.file) === machineLockDir()) return { fix: machineLockFix(), makeDir: makeSharedDir };
  return {};
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/**
 * A target with a directory keeps its lock there, so runs from any machine that mounts it see
 * it. Others (S3, Azure) are locked per machine only (machineLockDir): best effort, documented in docs/faults.md;
 * their lock is named by the store (storeKey), however its URI was written.
 */
export function targetLockFile(target: Target): string {
  return target.lockFile ?? machineLockFile(`target-${digest(target.storeKey ?? target.uri)}`);
}

/**
 * One lock per cluster: its hosts are what two runs must not touch at once, so the key is the
 * inventory's real path, not the name. A build dir reached through a symlink (whose name, the
 * default cluster name, differs) or given another --cluster is the same cluster; two builds
 * of one name stay apart. The holder's message names the cluster.
 */
export function clusterLockFile(inventorySource: string): string {
  return machineLockFile(`cluster-${digest(realPath(path.resolve(inventorySource)))}`);
}

/** The path with links resolved, or as given when it is not there (or not a path: a URI): what two names of one thing share. */
export function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file; // not a file (e.g. an inventory given inline): its resolved name is the key
  }
}

/** Runs fn holding every lock, taken in one order (their files' names) so two runs, of this version or an older one, cannot deadlock. */
export async function withLocks<T>(locks: LockToTake[], settings: LockSettings, fn: () => Promise<T>): Promise<T> {
  const all = locks.flatMap((l) => [l, ...olderVersionsLock(l)]);
  const ordered = [...new Map(all.map((l) => [l.file, l])).values()].sort((a, b) => (a.file < b.file ? -1 : 1));
  const held: HeldLock[] = [];
  try {
    for (const l of ordered) held.push(await acquireLock(l.file, { ...settings, what: l.what, ...placeOptions(l) }));
    return await fn();
  } finally {
    for (const h of held.reverse()) await h.release();
  }
}

/** For retention/prune and anything else that changes a target: never races a running backup. */
export function withTargetLock<T>(target: Target, settings: LockSettings, fn: () => Promise<T>): Promise<T> {
  return withLocks([{ file: targetLockFile(target), what: `target ${target.uri}` }], settings, fn);
}
