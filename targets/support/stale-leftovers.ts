/**
 * The rule for what interrupted runs leave in a store that several machines write to (S3:
 * incomplete multipart uploads; Azure Files: temp files). No pid can be checked there, so a
 * leftover is stale when nothing wrote to it for a grace period (a live upload keeps writing;
 * a run on another machine may still be going on a younger one), and it belongs to an lsbackup
 * backup — of the run's own cluster when a run cleans up, of any cluster when prune does.
 */
import { parseBackupName, sanitizeClusterName } from '../../engine/archive/names.js';
import type { StaleScope } from '../types.js';

/** Default of the `staleUploadHours` option of the S3 and Azure Files targets. */
export const DEFAULT_STALE_UPLOAD_HOURS = 24;

/** An archive's name from its own, a sidecar's or its damage marker's (`x.tar.gz.sha256` -> `x.tar.gz`). */
export function archiveOf(name: string): string {
  return name.replace(/\.(sha256|damaged|metadata\.json(\.age|\.sig)?)$/, '');
}

/** True when `name` (an archive or sidecar name) is of `scope.cluster`'s backups (any lsbackup backup without one). */
export function ofScopedBackup(name: string, scope: StaleScope): boolean {
  const backup = parseBackupName(archiveOf(name));
  return backup !== undefined && (scope.cluster === undefined || backup.cluster === sanitizeClusterName(scope.cluster));
}

/**
 * Sidecars among `names` whose archive is not there, of `scope`'s backups: what a run killed
 * after placing the sidecars and before the archive leaves (publishTogether places the archive
 * last), or a prune killed between deleting an archive and its sidecars (it deletes the archive
 * first). Listings skip them; nothing else would ever remove them.
 */
export function orphanSidecars(names: readonly string[], scope: StaleScope): string[] {
  const present = new Set(names);
  return names.filter((name) => {
    const archive = archiveOf(name);
    return archive !== name && !present.has(archive) && ofScopedBackup(name, scope);
  });
}

/**
 * The sidecars among `objects` without their archive (orphanSidecars) that nothing wrote to for
 * `staleUploadHours` by the store's `now`: each to remove, with the line that names it.
 */
export function staleOrphanSidecars(
  objects: ReadonlyArray<{ name: string; modified?: Date }>,
  scope: StaleScope,
  staleUploadHours = DEFAULT_STALE_UPLOAD_HOURS,
  now = Date.now(),
): Array<{ name: string; note: string }> {
  const modified = new Map(objects.map((o) => [o.name, o.modified]));
  return orphanSidecars([...modified.keys()], scope)
    .filter((name) => isStaleLeftover(name, modified.get(name), scope, staleUploadHours, now))
    .map((name) => ({ name, note: `${name} (sidecar without its archive, last written ${modified.get(name)!.toISOString()})` }));
}

/**
 * Is the leftover of upload `name`, last written at `lastWritten`, a dead run's to remove?
 * `staleUploadHours` is the target's option (default 24).
 */
export function isStaleLeftover(
  name: string,
  lastWritten: Date | undefined,
  scope: StaleScope,
  staleUploadHours = DEFAULT_STALE_UPLOAD_HOURS,
  now = Date.now(),
): boolean {
  if (!lastWritten || now - lastWritten.getTime() < staleUploadHours * 3600_000) return false;
  return ofScopedBackup(name, scope);
}
