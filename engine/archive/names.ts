/** Backup object names: `lsbackup-<cluster>-<YYYYMMDDTHHMMSSZ>.<ext>`, `_1`, `_2`... on collisions. */

/** Lower-case the cluster name and keep only [a-z0-9-], so the name is safe on every target. */
export function sanitizeClusterName(cluster: string): string {
  const cleaned = cluster
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return cleaned || 'cluster';
}

/** 2026-01-02T03:04:05.678Z -> 20260102T030405Z (UTC, seconds). */
export function compactUtc(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

export function backupName(cluster: string, date: Date, ext: string): string {
  return `lsbackup-${sanitizeClusterName(cluster)}-${compactUtc(date)}.${ext.replace(/^\./, '')}`;
}
