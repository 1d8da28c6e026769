/**
 * Which backup an archive was made as, when its name says another. A backup's name carries its
 * cluster and its run's start time (names.ts); its metadata records both, and a copy stored under
 * another name (two backups swapped with their sidecars, one copied to a newer name) keeps the
 * metadata of the run that made it. The one comparison of the two: list and latest order such a
 * copy by its metadata (catalog/listing.ts `renamed`), verify, show and restore say it.
 */
import { compactUtc, sanitizeClusterName, type ParsedBackupName } from './names.js';

export interface MadeAs {
  /** `<cluster>-<yyyymmddThhmmssZ>`: what the name of the backup it was made as carries. */
  backup: string;
  /** The cluster as its metadata records it. */
  cluster: string;
  /** Its run's start time as its metadata records it. */
  startedAt: string;
  /** The name carries another cluster than the one that made it, not only another time. */
  otherCluster: boolean;
}

/** What the backup recorded in `metadata` was made as, when `name` (parsed) says otherwise; undefined when the name is its own. */
export function madeAsAnother(name: Pick<ParsedBackupName, 'cluster' | 'time'>, metadata: { cluster: string; startedAt: string }): MadeAs | undefined {
  const cluster = sanitizeClusterName(metadata.cluster);
  const started = new Date(metadata.startedAt);
  // The name carries the start time in whole seconds; the collision suffix (`_1`) and the extension are no part of it.
  const sameTime = Math.floor(started.getTime() / 1000) * 1000 === name.time.getTime();
  if (cluster === name.cluster && sameTime) return undefined;
  return { backup: `${cluster}-${compactUtc(started)}`, cluster: metadata.cluster, startedAt: metadata.startedAt, otherCluster: cluster !== name.cluster };
}

/** How verify, show and restore begin to say it. */
export function describeMadeAs(made: MadeAs): string {
  return `this archive was made as ${made.backup} (started ${made.startedAt})`;
}
