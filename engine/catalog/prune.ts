/** Retention on a target: decide with the pure policy, then delete each pruned archive with its sidecars. */
import { LsError } from '../errors.js';
import type { Target } from '../../targets/types.js';
import { listBackups, type BackupSummary } from './listing.js';
import type { DecryptOptions } from './objects.js';
import { applyRetention, hasRules, type RetentionPolicy } from './retention.js';

export interface PruneResult {
  keep: { backup: BackupSummary; reasons: string[] }[];
  remove: BackupSummary[];
  dryRun: boolean;
}

/**
 * Applies `policy` to the lsbackup archives in `target` (foreign files are never touched).
 * The metadata sidecars give each backup's status, so the newest successful one is kept;
 * with encrypted metadata and no identity, statuses are unknown and the newest backup is kept.
 */
export async function prune(target: Target, policy: RetentionPolicy, options: DecryptOptions & { dryRun?: boolean } = {}): Promise<PruneResult> {
  if (!hasRules(policy)) {
    throw new LsError('EUSAGE', { message: 'prune needs at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly' });
  }
  const backups = await listBackups(target, options);
  const byName = new Map(backups.map((b) => [b.name, b]));
  const decision = applyRetention(
    backups.map((b) => ({ name: b.name, time: b.time, sequence: b.sequence, successful: b.status === 'unknown' ? undefined : b.status === 'success' })),
    policy,
  );
  const remove = decision.remove.map((n) => byName.get(n)!);
  if (!options.dryRun && target.deleteMany) {
    // Batched (S3: 1000 keys a request, was one request per object). Archives first, as below.
    await target.deleteMany(remove.map((b) => b.name));
    await target.deleteMany(remove.flatMap((b) => b.sidecars));
  } else if (!options.dryRun) {
    for (const backup of remove) {
      // The archive first: an interruption leaves stray sidecars (ignored), never an archive without its digest.
      await target.delete(backup.name);
      for (const sidecar of backup.sidecars) await target.delete(sidecar);
    }
  }
  return { keep: decision.keep.map((k) => ({ backup: byName.get(k.name)!, reasons: k.reasons })), remove, dryRun: options.dryRun ?? false };
}
