/**
 * Locks that keep two runs from colliding: one per target (backups, restores reading it,
 * retention pruning it) and one per cluster (two backups or a backup and a restore of the same
 * hosts). Take them with the helpers here; the catalog's prune should call withTargetLock.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Target } from '../../targets/types.js';
import { acquireLock, type HeldLock, type LockOptions } from './lock-file.js';

export { acquireLock, currentOwner, staleReason, processStartMs, type HeldLock, type LockOptions, type LockOwner } from './lock-file.js';
export { createOwnedTempDir, removeStaleTempDirs } from './owned-temp-dir.js';

export type LockSettings = Omit<LockOptions, 'what'>;

/** ~/.cache/lsbackup/locks (or $XDG_CACHE_HOME/lsbackup/locks): locks that have no better home. */
export function localLockDir(): string {
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'lsbackup', 'locks');
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/**
 * A target with a directory keeps its lock there, so runs from any machine that mounts it see
 * it. Others (S3, Azure) are locked per machine only: best effort, documented in docs/faults.md;
 * their lock is named by the store (storeKey), however its URI was written.
 */
export function targetLockFile(target: Target): string {
  return target.lockFile ?? path.join(localLockDir(), `target-${digest(target.storeKey ?? target.uri)}.lock`);
}

/**
 * One lock per cluster: its hosts are what two runs must not touch at once, so the key is the
 * inventory's real path, not the name. A build dir reached through a symlink (whose name, the
 * default cluster name, differs) or given another --cluster is the same cluster; two builds
 * of one name stay apart. The holder's message names the cluster.
 */
export function clusterLockFile(inventorySource: string): string {
  return path.join(localLockDir(), `cluster-${digest(realPath(path.resolve(inventorySource)))}.lock`);
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
    for (const l of ordered) held.push(await acquireLock(l.file, { ...settings, what: l.what }));
    return await fn();
  } finally {
    for (const h of held.reverse()) await h.release();
  }
}

/** For retention/prune and anything else that changes a target: never races a running backup. */
export function withTargetLock<T>(target: Target, settings: LockSettings, fn: () => Promise<T>): Promise<T> {
  return withLocks([{ file: targetLockFile(target), what: `target ${target.uri}` }], settings, fn);
}
