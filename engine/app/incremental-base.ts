/**
 * Which backup an incremental run is compared with (docs/incremental.md): the newest readable
 * backup of the same cluster in the first target, present in every target, unless a full is
 * due (--full, `fullEvery`, `maxChain`) — then a full that records file signatures.
 */
import { sanitizeClusterName } from '../archive/names.js';
import { listBackups, type BackupSummary } from '../catalog/listing.js';
import { storedSha256 } from '../catalog/objects.js';
import type { Reporter } from '../report/events.js';
import type { IncrementalBase } from '../runner/incremental.js';
import type { Target } from '../../targets/types.js';

export interface IncrementalPolicy {
  /** full: record signatures but store everything; incremental: against the newest backup. */
  mode: 'full' | 'incremental';
  /** A full once the chain's full is older than this (ms). */
  fullEveryMs?: number;
  /** A full once the chain holds this many incrementals. */
  maxChain?: number;
}

/** What runBackup gets: the base to compare with, or none (a full). */
export async function chooseIncrementalBase(
  policy: IncrementalPolicy,
  targets: Target[],
  cluster: string,
  reporter: Reporter,
  now = new Date(),
): Promise<{ base?: IncrementalBase }> {
  if (policy.mode === 'full' || targets.length === 0) return {};
  const full = (why: string) => {
    reporter.emit({ type: 'warning', message: `incremental: a full backup is made: ${why}` });
    return {};
  };
  const first = targets[0]!;
  const clusterName = sanitizeClusterName(cluster);
  const backups = (await listBackups(first, { only: (p) => p.cluster === clusterName })).filter(
    (b) => b.metadata && b.cluster === clusterName && b.status !== 'failed',
  );
  const newest = backups[0];
  if (!newest) return full(`${first.uri} holds no readable backup of cluster ${cluster} to compare with`);
  const chain = chainOf(newest, backups);
  if (!chain.complete) return full(`the chain of ${newest.name} is incomplete in ${first.uri} (a base is missing)`);
  const increments = chain.members.length - 1;
  if (policy.maxChain !== undefined && increments >= policy.maxChain) return full(`the chain has ${increments} incrementals (maxChain ${policy.maxChain})`);
  const fullAt = chain.members.at(-1)!.time;
  if (policy.fullEveryMs !== undefined && now.getTime() - fullAt.getTime() >= policy.fullEveryMs) {
    return full(`the chain's full backup (${chain.members.at(-1)!.name}) is older than fullEvery`);
  }
  for (const other of targets.slice(1)) {
    for (const member of chain.members) {
      if (!(await other.stat(member.name))) return full(`${other.uri} lacks ${member.name}, which the chain needs`);
    }
  }
  const sha256 = await storedSha256(first, newest.name);
  if (!sha256) return full(`${newest.name} has no readable .sha256 sidecar in ${first.uri}`);
  return { base: { metadata: newest.metadata!, archive: newest.name, sha256 } };
}

/** The backup, its base, that one's base… down to the full; incomplete when a base is not listed. */
function chainOf(newest: BackupSummary, backups: BackupSummary[]): { members: BackupSummary[]; complete: boolean } {
  const byId = new Map(backups.map((b) => [b.metadata!.backupId, b]));
  const members = [newest];
  for (let b = newest; b.metadata!.base;) {
    const next = byId.get(b.metadata!.base.backupId);
    if (!next || members.includes(next)) return { members, complete: false };
    members.push(next);
    b = next;
  }
  return { members, complete: true };
}
