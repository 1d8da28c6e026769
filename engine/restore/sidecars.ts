import { LsError } from '../errors.js';
import type { BackupSource } from './source.js';
import type { StagedBackup } from './stage.js';

/**
 * Restore refuses an archive whose metadata or signature sidecar is not its own, as `verify`
 * fails it, with the same words (catalog/sidecar-match.ts): `latest` and the catalog chose the
 * backup by that sidecar, and an unsigned archive's metadata.json rewritten together with its
 * `.sha256` is told only by the sidecar that still says what the backup held. A sidecar that cannot
 * be read is left to verify (it fails the backup) and to list and prune (they say so).
 */
export async function refuseForeignSidecars(
  archive: BackupSource,
  staged: Pick<StagedBackup, 'metadataBytes' | 'signature'>,
  backup = archive.name,
): Promise<void> {
  // A sidecar that does not read is damage to the catalog (list and prune say so), not another
  // backup's word against the archive's: restore goes by the archive's own metadata.json.
  const [mismatch] = (await archive.sidecarMismatches({ metadata: JSON.parse(staged.metadataBytes.toString('utf8')), signature: staged.signature })).filter(
    (m) => !m.unreadable,
  );
  if (mismatch) throw new LsError('ERESTORE', { backup, message: mismatch.message });
}
