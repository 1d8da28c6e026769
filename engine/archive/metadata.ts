/**
 * metadata.json, the last entry of every archive. Its types are generated from
 * schemas/metadata.schema.json (engine/shapes/metadata.generated.ts), which lsbackup also
 * validates every metadata.json it reads back against (read-metadata.ts).
 */
import type { BackupMetadata, ComponentHostRecord } from '../shapes/metadata.generated.js';
export type { BackupHost, BackupMetadata, ComponentHostRecord, ComponentRecord, StepRecord } from '../shapes/metadata.generated.js';
export { backupName } from './names.js';

export const METADATA_FORMAT: BackupMetadata['format'] = 'lsbackup-metadata/v1';

export type RunStatus = BackupMetadata['status'];
export type HostRunStatus = ComponentHostRecord['status'];

/**
 * The metadata without its entry list, which is what a listing of every backup keeps: the list
 * names every file with its digest (~46 MB parsed for 100,000 entries), and `list`, `prune` and a
 * job's retention read every backup of the target.
 */
export type MetadataHead = Omit<BackupMetadata, 'entries'>;
