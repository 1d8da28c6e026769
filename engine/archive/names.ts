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

/**
 * The longest cluster part of a backup name. With the temp prefix an upload is written under
 * (`.lsbackup-tmp-<12 hex>-`, 27), `lsbackup-` and the time (26), a collision suffix (`_1000`),
 * the longest extension (`.tar.zst.age`) and sidecar suffix (`.metadata.json.age`), every name
 * a backup takes stays within the 255 bytes that local file systems, NFS and Azure Files allow
 * one file name (a longer cluster failed the run after its hosts were backed up, at storing).
 */
export const MAX_CLUSTER_NAME_LENGTH = 160;

/** 2026-01-02T03:04:05.678Z -> 20260102T030405Z (UTC, seconds). */
export function compactUtc(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function backupName(cluster: string, date: Date, ext: string): string {
  return `lsbackup-${sanitizeClusterName(cluster)}-${compactUtc(date)}.${ext.replace(/^\./, '')}`;
}

/** Encrypted objects (archive and, unless asked otherwise, its metadata sidecar) end in this. */
export const AGE_SUFFIX = '.age';

/** What each sidecar's name adds to its archive's name; `signature` only for a signed backup. */
export function sidecarSuffixes(encryptedMetadata: boolean): { sha256: string; metadata: string; signature: string } {
  return {
    sha256: '.sha256',
    metadata: `.metadata.json${encryptedMetadata ? AGE_SUFFIX : ''}`,
    // Of the plain metadata.json's bytes (the archive's entry, and the sidecar when not encrypted).
    signature: '.metadata.json.sig',
  };
}

/**
 * How the `.sha256` sidecar's third line begins: `# size <bytes> <archive name>`, the archive's
 * stored size (a comment to `sha256sum -c`). Backups made before it was written have none.
 */
export const STORED_SIZE_LINE = '# size';

/** The sidecars stored beside an archive. */
export function sidecarNames(archiveName: string, encryptedMetadata: boolean): { sha256: string; metadata: string; signature: string } {
  const suffixes = sidecarSuffixes(encryptedMetadata);
  return { sha256: archiveName + suffixes.sha256, metadata: archiveName + suffixes.metadata, signature: archiveName + suffixes.signature };
}

/**
 * The marker a verify leaves beside an archive it found damaged (engine/catalog/damage.ts): an
 * object of its own, since sidecars are never replaced, and one the catalog sees in the
 * listing it reads anyway. Deleted with its archive, like a sidecar.
 */
export function damageMarkerName(archiveName: string): string {
  return `${archiveName}.damaged`;
}

export interface ParsedBackupName {
  name: string;
  cluster: string;
  /** From the name (UTC, whole seconds). */
  time: Date;
  /** The collision suffix: 0 for none, 1 for `_1`... orders backups of the same second. */
  sequence: number;
  format: 'tar.gz' | 'tar.zst' | 'zip';
  encrypted: boolean;
}

const BACKUP_NAME = /^lsbackup-([a-z0-9-]+)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:_(\d+))?\.(tar\.gz|tar\.zst|zip)(\.age)?$/;

/** The inverse of backupName(); undefined for anything that is not an lsbackup archive (sidecars, foreign files). */
export function parseBackupName(name: string): ParsedBackupName | undefined {
  const m = BACKUP_NAME.exec(name);
  if (!m) return undefined;
  const [, cluster, y, mo, d, h, mi, s, seq, format, age] = m;
  const time = new Date(Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!));
  if (Number.isNaN(time.getTime())) return undefined;
  return { name, cluster: cluster!, time, sequence: seq ? Number(seq) : 0, format: format as ParsedBackupName['format'], encrypted: age !== undefined };
}
