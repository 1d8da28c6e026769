import os from 'node:os';
import type { Inventory } from '../inventory/types.js';
import { clusterLockFile, removeStaleTempDirs, targetLockFile, withLocks } from '../lock/index.js';
import type { Reporter } from '../report/events.js';
import type { Target } from '../../targets/types.js';

/**
 * Runs fn holding the cluster's lock and the lock of every target, so two runs never collide;
 * a live holder is waited for up to --lock-wait seconds. Once the target locks are held no
 * other run is writing there, so what a killed run left behind is cleaned first.
 */
export async function withRunLocks<T>(
  run: { cluster: string; inventory: Inventory; targets: Target[]; lockWaitSec?: number; reporter: Reporter; stagingDir?: string; signal?: AbortSignal },
  fn: () => Promise<T>,
): Promise<T> {
  // The one check of the run's targets (runBackup does not repeat it): a target that is no
  // directory cannot hold a lock file either, so what is wrong with it is said first.
  await Promise.all(run.targets.map((t) => t.check()));
  const locks = [
    { file: clusterLockFile(run.inventory.source), what: `cluster ${run.cluster}` },
    ...run.targets.map((t) => ({ file: targetLockFile(t), what: `target ${t.uri}` })),
  ];
  const onWarning = (message: string) => run.reporter.emit({ type: 'warning', message });
  return withLocks(locks, { waitMs: (run.lockWaitSec ?? 0) * 1000, onWarning, signal: run.signal }, async () => {
    for (const t of run.targets) {
      const removed = (await t.cleanStale?.({ cluster: run.cluster })) ?? [];
      if (removed.length > 0) onWarning(`target ${t.uri}: removed ${removed.length} leftover(s) of interrupted runs: ${removed.join(', ')}`);
    }
    // Spool and staging directories of killed runs (plaintext backup data).
    const stale = await removeStaleTempDirs([os.tmpdir(), ...(run.stagingDir ? [run.stagingDir] : [])]);
    if (stale.length > 0) onWarning(`removed ${stale.length} temp director${stale.length === 1 ? 'y' : 'ies'} left by a killed run: ${stale.join(', ')}`);
    return fn();
  });
}
