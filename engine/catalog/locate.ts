/**
 * The `<backup>` argument of show/verify/get: a name in the target (-t or the config's first),
 * `latest`, or the path/URI of one archive (`/backups/lsbackup-x-….tar.gz`,
 * `s3://bucket/prefix/lsbackup-x-….tar.gz`), whose directory is then the target.
 */
import { parseBackupName, sanitizeClusterName } from '../archive/index.js';
import { LsError } from '../errors.js';
import type { Target } from '../../targets/types.js';
import { listBackups, ofCluster } from './listing.js';
import type { DecryptOptions } from './objects.js';

export interface BackupReference {
  /** The target URI taken from a path/URI argument, when it named one. */
  targetUri?: string;
  /** The archive name, or 'latest'. */
  name: string;
}

export function parseBackupReference(spec: string): BackupReference {
  const slash = spec.lastIndexOf('/');
  const name = slash >= 0 ? spec.slice(slash + 1) : spec;
  if (name !== 'latest' && !parseBackupName(name)) {
    throw new LsError('EUSAGE', {
      message: `'${spec}' does not name an lsbackup archive (lsbackup-<cluster>-<YYYYMMDDTHHMMSSZ>.tar.gz|.tar.zst|.zip[.age], or 'latest')`,
    });
  }
  if (slash < 0) return { name };
  const dir = spec.slice(0, slash);
  // "s3://bucket/x.tar.gz" -> "s3://bucket"; "/x.tar.gz" -> "/".
  return { name, targetUri: dir === '' ? '/' : dir.endsWith(':/') ? dir + '/' : dir };
}

/** What `latest` needs: the cluster in use (when known) and the key to read encrypted metadata. */
export interface LatestOptions extends DecryptOptions {
  /** The cluster of -b / --cluster / the config; unset: the target's only cluster, else a usage error. */
  cluster?: string;
  onWarning?: (message: string) => void;
}

/** 'latest' -> the newest backup of the cluster in use; otherwise the name itself, after checking it exists. */
export async function resolveBackupName(target: Target, name: string, options: LatestOptions = {}): Promise<string> {
  if (name === 'latest') return latestBackup(target, options);
  if (!(await target.stat(name)))
    throw new LsError('ETARGET', { target: target.uri, message: `has no backup named ${name} (see 'lsbackup list -t ${target.uri}')` });
  return name;
}

/**
 * The newest backup of one cluster by the start time its metadata records (never by name: a
 * renamed copy keeps its age). Only the metadata sidecars of backups whose names carry that
 * cluster are read; of those, the cluster each records decides (ofCluster).
 */
async function latestBackup(target: Target, options: LatestOptions): Promise<string> {
  const clusters = [...new Set((await listBackups(target, { withMetadata: false })).map((b) => b.cluster))].sort();
  if (clusters.length === 0) throw new LsError('ETARGET', { target: target.uri, message: 'holds no lsbackup archive' });
  const named = options.cluster !== undefined ? sanitizeClusterName(options.cluster) : clusters.length === 1 ? clusters[0]! : undefined;
  if (named === undefined) throw ambiguous(target, clusters);
  const backups = await listBackups(target, { identities: options.identities, only: (p) => p.cluster === named });
  const unread = backups.filter((b) => !b.metadata);
  if (unread.length > 0) {
    const shown = unread
      .slice(0, 5)
      .map((b) => `${b.name} (${b.metadataNote})`)
      .join(', ');
    options.onWarning?.(
      `'latest' skipped ${unread.length} backup(s) of cluster ${named} whose metadata could not be read: ${shown}${unread.length > 5 ? ', …' : ''}`,
    );
  }
  // With no cluster given, the one the names spell may still be two (`eu_west` and `eu-west`).
  const recorded = [...new Set(backups.flatMap((b) => (b.metadata ? [b.metadata.cluster] : [])))].sort();
  const cluster = options.cluster ?? (recorded.length > 1 ? undefined : (recorded[0] ?? named));
  if (cluster === undefined) throw ambiguous(target, recorded);
  // Sorted newest first; a copy renamed into this cluster's name but made for another is not this cluster's.
  const newest = backups.find((b) => b.metadata && ofCluster(b, cluster));
  if (newest) return newest.name;
  const others = recorded.filter((c) => c !== cluster);
  throw new LsError('ETARGET', {
    target: target.uri,
    message:
      unread.length > 0 && others.length === 0
        ? `holds no backup of cluster ${cluster} whose metadata can be read (encrypted metadata needs --identity); name the backup instead of 'latest'`
        : `holds no backup of cluster ${cluster} (it holds: ${[...new Set([...clusters.filter((c) => c !== named), ...others])].sort().join(', ')}); name the backup, or choose the cluster with --cluster`,
  });
}

function ambiguous(target: Target, clusters: string[]): LsError {
  return new LsError('EUSAGE', {
    message: `'latest' is ambiguous: ${target.uri} holds backups of ${clusters.length} clusters (${clusters.join(', ')}); choose one with --cluster <name> (restore: -b or --cluster), or name the backup`,
  });
}
