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

/** The extension a collision suffix goes before: `.tar.gz`, `.tar.zst`, `.zip`, `.json`... */
function splitExtension(name: string): [string, string] {
  const match = /(\.tar)?\.[A-Za-z0-9]+$/.exec(name);
  return match && match.index > 0 ? [name.slice(0, match.index), match[0]] : [name, ''];
}

/** `withCollisionSuffix('b.tar.gz', 2)` -> `b_2.tar.gz`; n = 0 keeps the name. */
export function withCollisionSuffix(name: string, n: number): string {
  if (n === 0) return name;
  const [stem, ext] = splitExtension(name);
  return `${stem}_${n}${ext}`;
}
