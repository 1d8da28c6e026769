/**
 * Locks that keep two runs from colliding: one per target (backups, restores reading it,
 * retention pruning it) and one per cluster (two backups or a backup and a restore of the same
 * hosts). Take them with the helpers here; the catalog's prune should call withTargetLock.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
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
 * apply` took two cluster locks and ran at once. /run/lock is root's, world-writable and sticky
 * (no user removes another's lock); LSBACKUP_LOCK_DIR names another directory (a container with a
 * read-only root, whose one user has its /tmp).
 */
export function machineLockDir(): string {
  return path.resolve(process.env.LSBACKUP_LOCK_DIR || '/run/lock');
}

/** A lock in machineLockDir(); its name says whose it is, as the directory is the system's. */
const machineLockFile = (name: string) => path.join(machineLockDir(), `lsbackup-${name}.lock`);

/** What an operator does when a lock of machineLockDir() cannot be written. */
function machineLockFix(file: string): string | undefined {
  if (path.dirname(file) !== machineLockDir()) return undefined;
  return (
    `Every user who runs lsbackup on this machine takes these locks in ${machineLockDir()}, so it must be writable by all of them ` +
    `(a systemd unit with ProtectSystem=strict needs ReadWritePaths=/run/lock), or set LSBACKUP_LOCK_DIR to such a directory for every run.`
  );
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

function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file; // not a file (e.g. an inventory given inline): its resolved name is the key
  }
}

/** Runs fn holding every lock, taken in a fixed order so two runs cannot deadlock. */
export async function withLocks<T>(locks: { file: string; what: string }[], settings: LockSettings, fn: () => Promise<T>): Promise<T> {
  const ordered = [...new Map(locks.map((l) => [l.file, l])).values()].sort((a, b) => (a.file < b.file ? -1 : 1));
  const held: HeldLock[] = [];
  try {
    for (const l of ordered) held.push(await acquireLock(l.file, { ...settings, what: l.what, fix: machineLockFix(l.file) }));
    return await fn();
  } finally {
    for (const h of held.reverse()) await h.release();
  }
}

/** For retention/prune and anything else that changes a target: never races a running backup. */
export function withTargetLock<T>(target: Target, settings: LockSettings, fn: () => Promise<T>): Promise<T> {
  return withLocks([{ file: targetLockFile(target), what: `target ${target.uri}` }], settings, fn);
}
