/**
 * A backup restored by a name that is not its own (two backups swapped with their sidecars, one
 * copied to a newer name): the operator asked for one backup and would get another's data. Its
 * time is said in the plan, before any host is touched and before the prompt; another cluster's
 * backup is refused unless --allow-renamed-cluster says it is meant (a copy kept aside, renamed
 * on purpose), since its data would go onto this cluster's hosts.
 */
import { parseBackupName, type BackupMetadata } from '../archive/index.js';
import { describeMadeAs, madeAsAnother } from '../archive/made-as.js';
import { LsError } from '../errors.js';

/**
 * What the plan says of backup `name` whose metadata is `metadata` (the sidecar's before the
 * archive is read, the archive's own after): undefined when the name is its own. Throws ERESTORE
 * for another cluster's backup unless `allowRenamedCluster`.
 */
export function madeAsAnotherBackup(
  name: string,
  metadata: Pick<BackupMetadata, 'cluster' | 'startedAt'>,
  allowRenamedCluster: boolean,
): { backup: string; message: string } | undefined {
  const parsed = parseBackupName(name);
  const made = parsed && madeAsAnother(parsed, metadata);
  if (!made) return undefined;
  if (made.otherCluster && !allowRenamedCluster) {
    throw new LsError('ERESTORE', {
      backup: name,
      message: `${describeMadeAs(made)}, a backup of cluster '${made.cluster}', not of '${parsed.cluster}' as its name says: pass --allow-renamed-cluster to restore that backup's data`,
    });
  }
  const of = made.otherCluster ? `, a backup of cluster '${made.cluster}' (--allow-renamed-cluster)` : '';
  return { backup: made.backup, message: `${describeMadeAs(made)}${of}: restoring that backup's data` };
}
