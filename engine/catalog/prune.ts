/**
 * Retention on a target: decide with the pure policy, then delete each pruned archive with its sidecars.
 * The policy applies to each group of backups on its own: one cluster and one job (restic's
 * `--group-by`), so one cluster's or job's backups never push out another's.
 */
import { LsError } from '../errors.js';
import type { Target } from '../../targets/types.js';
import { listBackups, ofCluster, type BackupSummary } from './listing.js';
import type { DecryptOptions } from './objects.js';
import { newestFirst } from './order.js';
import { decideRetention, hasRules, type RetentionPolicy } from './retention.js';
import { keepChainsWhole } from './chains.js';
import { refuseUnknownNames } from '../recipes/selection.js';

/** Which backups a prune looks at; unset: all of them (each group pruned on its own). */
export interface PruneScope {
  /** Only this cluster's: as its metadata records it, or for a backup whose metadata was not read, as its name spells it (ofCluster). */
  cluster?: string;
  /** Only this job's; null: only the backups that record no job (`apply`, or made before jobs were recorded). */
  job?: string | null;
}

export interface PruneResult {
  keep: { backup: BackupSummary; reasons: string[] }[];
  remove: BackupSummary[];
  dryRun: boolean;
}

/**
 * The group a backup is pruned in: `cluster/job`, `cluster/-` without a job, `cluster/?` when its
 * metadata could not be read. The cluster its metadata records: two clusters whose archive names
 * read the same (ofCluster) are two groups.
 */
export function pruneGroup(b: BackupSummary): string {
  return `${b.metadata?.cluster ?? b.cluster}/${!b.metadata ? '?' : (b.job ?? '-')}`;
}

/**
 * Applies `policy` to the lsbackup archives in `target` (foreign files are never touched), per
 * cluster and job, ordered by the start time in their metadata sidecars. The newest successful
 * backup of each group is kept. A backup whose metadata cannot be read (missing, damaged,
 * encrypted without an identity) is kept and reported: its cluster, job and time are unknown.
 * A base of an incremental that stays is kept too (chains.ts).
 */
export async function prune(
  target: Target,
  policy: RetentionPolicy,
  options: DecryptOptions & PruneScope & { dryRun?: boolean; count?: (bytes: number) => void; now?: Date } = {},
): Promise<PruneResult> {
  if (!hasRules(policy)) {
    throw new LsError('EUSAGE', {
      message: 'prune needs at least one of --keep-within, --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly',
    });
  }
  const { cluster } = options;
  const listed = await listBackups(target, options);
  refuseScopeNothingHas(listed, options, target.uri);
  const backups = listed.filter(
    // An unread backup's job is unknown: it is reported with any job of its (name's) cluster.
    (b) => (cluster === undefined || ofCluster(b, cluster)) && (options.job === undefined || !b.metadata || (b.job ?? null) === options.job),
  );
  const byName = new Map(backups.map((b) => [b.name, b]));
  const groups = new Map<string, BackupSummary[]>();
  for (const b of backups.filter((b) => b.metadata)) {
    const key = pruneGroup(b);
    groups
      .set(key, groups.get(key) ?? [])
      .get(key)!
      .push(b);
  }
  const keep: PruneResult['keep'] = backups
    .filter((b) => !b.metadata)
    .map((b) => ({ backup: b, reasons: [`kept: ${b.metadataNote ?? 'metadata not read'} (its cluster, job and time are unknown)`] }));
  const decided: BackupSummary[] = [];
  for (const members of groups.values()) {
    const decision = decideRetention(
      // A backup a verify found unrestorable (damage.ts) is no successful one, whatever its run said.
      members.map((b) => ({ name: b.name, time: b.time, sequence: b.sequence, renamed: b.renamed, successful: b.status === 'success' && !b.damaged })),
      policy,
      options.now,
    );
    keep.push(...decision.keep.map((k) => ({ backup: byName.get(k.name)!, reasons: k.reasons })));
    decided.push(...decision.remove.map((n) => byName.get(n)!));
  }
  const chains = keepChainsWhole(listed, decided);
  keep.push(...chains.kept);
  const remove = chains.remove;
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
  const ordered = (a: BackupSummary, b: BackupSummary) => pruneGroup(a).localeCompare(pruneGroup(b)) || newestFirst(a, b);
  return { keep: keep.sort((a, b) => ordered(a.backup, b.backup)), remove: remove.sort(ordered), dryRun: options.dryRun ?? false };
}

/**
 * A --cluster or --job that no backup in the target records is a typo, not an empty group: said
 * with the names there (did you mean), exit 64, instead of "no archives" and exit 0. Only backups
 * whose metadata was read name theirs; a target with none of those proves nothing.
 */
function refuseScopeNothingHas(listed: BackupSummary[], scope: PruneScope, where: string): void {
  const read = listed.filter((b) => b.metadata);
  const names = (of: (b: BackupSummary) => string | undefined, among: BackupSummary[]) => [...new Set(among.flatMap((b) => of(b) ?? []))].sort();
  const clusters = names((b) => b.metadata!.cluster, read);
  if (scope.cluster !== undefined && clusters.length > 0) {
    refuseUnknownNames(
      clusters,
      { only: [scope.cluster] },
      { only: '--cluster', skip: '', absent: `no backup in ${where} records`, listed: 'the clusters there' },
    );
  }
  const ofScope = scope.cluster === undefined ? read : read.filter((b) => b.metadata!.cluster === scope.cluster);
  const jobs = names((b) => b.job, ofScope);
  if (typeof scope.job === 'string' && ofScope.length > 0) {
    const of = scope.cluster === undefined ? '' : ` of cluster ${scope.cluster}`;
    if (jobs.length === 0) {
      throw new LsError('EUSAGE', { message: `--job names '${scope.job}', but no backup${of} in ${where} records a job (--no-job prunes those)` });
    }
    refuseUnknownNames(jobs, { only: [scope.job] }, { only: '--job', skip: '', absent: `no backup${of} in ${where} records`, listed: `the jobs there${of}` });
  }
}
