import path from 'node:path';
import type { Target } from '../../targets/types.js';
import { prune } from '../catalog/prune.js';
import { AFTER_CLOCK_REASON, hasRules, type RetentionPolicy } from '../catalog/retention.js';
import { withTargetLock } from '../lock/index.js';
import type { EffectiveJob } from './resolve.js';
import type { EncryptionConfig } from '../config/load.js';
import type { RetentionOutcome } from '../report/run-report.js';

export type { RetentionOutcome } from '../report/run-report.js';

const RETENTION_LOCK_WAIT_MS = 10 * 60 * 1000;

/** What a job's run gives its retention: the identities that read encrypted metadata, its stop, its warnings. */
export interface RetentionRun {
  identities?: string[];
  signal: AbortSignal;
  warn: (message: string) => void;
}

/** Has the policy any rule at all? An empty one means "keep everything". */
export function hasRetention(policy: RetentionPolicy | undefined): policy is RetentionPolicy {
  return policy !== undefined && hasRules(policy);
}

/**
 * Applies a job's retention to one target after a run: the catalog's prune, for real, on the
 * backups this job made of this cluster only (metadata `cluster` and `job`). Other jobs' and
 * clusters' backups, and those that record no job (`apply`, older lsbackup), are never touched.
 */
export async function applyRetention(
  target: Target,
  policy: RetentionPolicy | undefined,
  owner: { cluster: string; job: string },
  run: RetentionRun,
): Promise<RetentionOutcome | undefined> {
  if (!hasRetention(policy)) return undefined;
  // Under the target's lock, waiting a while for another run writing there: never a race. The
  // wait is said, and a stop (SIGTERM, the scheduler stopping) ends it as it ends the backup's.
  const lock = { waitMs: RETENTION_LOCK_WAIT_MS, signal: run.signal, onWarning: run.warn };
  const result = await withTargetLock(target, lock, () => prune(target, policy, { ...owner, identities: run.identities }));
  const unreadable = result.keep.filter((k) => !k.backup.metadata).map((k) => `${k.backup.name} (${k.backup.metadataNote})`);
  const afterClock = result.keep.filter((k) => k.reasons.some((r) => r.startsWith(AFTER_CLOCK_REASON))).map((k) => k.backup.name);
  return {
    deleted: result.remove.map((b) => b.name),
    kept: result.keep.map((k) => k.backup.name),
    ...(unreadable.length ? { unreadable } : {}),
    ...(afterClock.length ? { afterClock } : {}),
  };
}

/** Backups get encrypted metadata sidecars and the jobs hold no identity that reads them. */
export function metadataSealedFromJobs(encryption: EncryptionConfig | undefined): boolean {
  return (encryption?.recipients?.length ?? 0) > 0 && !encryption?.plainMetadata && !encryption?.identityFile;
}

/**
 * `config validate`: retention the operator should know about. Two jobs whose policies cover
 * the same target and cluster (each applies to its own job's backups only, so none deletes
 * another's), and retention over encrypted metadata with no identity to read it (kept, never pruned).
 */
export function retentionWarnings(jobs: EffectiveJob[], encryption: EncryptionConfig | undefined): string[] {
  const retaining = jobs.filter((j) => hasRetention(j.retention));
  const unreadable =
    metadataSealedFromJobs(encryption) && retaining.length > 0
      ? [
          'retention cannot read encrypted metadata without encryption.identityFile: backups whose metadata it cannot read are kept, never pruned (set encryption.identityFile, or encryption.plainMetadata: true)',
        ]
      : [];
  // The cluster as `run` names it: the job's `cluster`, else its build directory's name.
  const clusterOf = (j: EffectiveJob) => j.cluster ?? (j.build ? path.basename(j.build) : '(the build directory name)');
  const owners = new Map<string, string[]>();
  for (const job of retaining) {
    for (const target of new Set(job.targets.map((t) => t.uri))) {
      const key = `${target}\0${clusterOf(job)}`;
      owners.set(key, [...(owners.get(key) ?? []), job.name]);
    }
  }
  const overlaps = [...owners.entries()]
    .filter(([, names]) => names.length > 1)
    .map(([key, names]) => {
      const [target, cluster] = key.split('\0');
      return (
        `jobs ${names.map((n) => `'${n}'`).join(' and ')} both set retention for cluster ${cluster} in target ${target}: ` +
        "each policy now applies only to the backups its own job made (recorded in metadata.json), so neither deletes the other's; " +
        "backups made by 'apply' or before jobs were recorded are left to 'lsbackup prune --no-job'"
      );
    });
  return [...overlaps, ...unreadable];
}
