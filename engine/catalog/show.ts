/** `show`: a backup's metadata, from its sidecar, else from the archive's own metadata.json. */
import { formatFromName, METADATA_ENTRY, openArchiveReader, parseBackupName, type BackupMetadata } from '../archive/index.js';
import { madeAsAnother, type MadeAs } from '../archive/made-as.js';
import { LsError } from '../errors.js';
import { readMetadataEntry } from '../archive/read-metadata.js';
import type { Target } from '../../targets/types.js';
import { findBackup, type BackupSummary } from './listing.js';
import { openObject, type DecryptOptions } from './objects.js';

/** `madeAs`: the backup it was made as, when its name says another (made-as.ts). */
export async function backupDetails(
  target: Target,
  name: string,
  options: DecryptOptions = {},
): Promise<{ summary: BackupSummary; metadata: BackupMetadata; madeAs?: MadeAs }> {
  const summary = await findBackup(target, name, options);
  if (!summary) throw new LsError('ETARGET', { target: target.uri, message: `has no backup named ${name}` });
  const metadata = summary.metadata ?? (await metadataFromArchive(target, name, options));
  // The name as parsed: the summary's time and cluster are the metadata's.
  const madeAs = madeAsAnother(parseBackupName(name)!, metadata);
  return { summary, metadata, ...(madeAs ? { madeAs } : {}) };
}

/** Streams the archive up to its last entry, metadata.json (no sidecar, or an unreadable one). */
async function metadataFromArchive(target: Target, name: string, options: DecryptOptions): Promise<BackupMetadata> {
  const stream = await openObject(target, name, options);
  for await (const { entry, body } of openArchiveReader(stream, formatFromName(name))) {
    if (entry.path !== METADATA_ENTRY) continue;
    return readMetadataEntry(body, name);
  }
  throw new LsError('EARCHIVE', { archive: name, message: `has no ${METADATA_ENTRY}` });
}
