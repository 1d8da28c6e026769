export { createArchiveWriter, METADATA_ENTRY, SIGNATURE_ENTRY } from './writer.js';
export { openArchiveReader, formatFromName } from './reader.js';
export { verifyArchive } from './verify.js';
export { backupName, sanitizeClusterName, compactUtc, parseBackupName, sidecarNames, damageMarkerName, AGE_SUFFIX, type ParsedBackupName } from './names.js';
export type * from './metadata.js';
export type * from './types.js';
