import { LsError } from '../errors.js';
import type { EntryRecord, EntrySpec, EntryType } from './types.js';

/** An EntrySpec with every default filled in and the path checked. */
export interface NormalisedEntry {
  path: string;
  type: EntryType;
  mode: number;
  mtime: Date;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkpath?: string;
  /** Body length; 0 for directories and links. Undefined only for a file body still to be spooled. */
  size?: number;
  /** tar only: the body is a sparse map and the data regions of a file of `realSize` bytes (engine/archive/tar/sparse.ts). */
  sparse?: { realSize: number };
}

export function archiveError(archive: string, message: string, cause?: unknown): LsError {
  return new LsError('EARCHIVE', { archive, message }, { cause });
}

/** An empty, '.' or '..' part of a '/'-separated path. */
const BAD_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** Reject absolute paths, '..', empty segments: an archive must never write outside its root on restore. */
export function normaliseEntry(spec: EntrySpec): NormalisedEntry {
  const type = spec.type ?? 'file';
  const path = spec.path.endsWith('/') ? spec.path.replace(/\/+$/, '') : spec.path;
  if (!path || path.startsWith('/') || BAD_SEGMENT.test(path)) {
    throw archiveError(spec.path, "entry path must be relative, '/'-separated, without '.', '..' or empty parts");
  }
  if ((type === 'symlink' || type === 'hardlink') && !spec.linkpath) {
    throw archiveError(spec.path, `a ${type} entry needs a linkpath`);
  }
  const hasBody = type === 'file';
  return {
    path,
    type,
    mode: (spec.mode ?? (type === 'directory' ? 0o700 : type === 'symlink' ? 0o777 : 0o600)) & 0o7777,
    mtime: spec.mtime ?? new Date(),
    uid: spec.uid ?? 0,
    gid: spec.gid ?? 0,
    uname: spec.uname ?? '',
    gname: spec.gname ?? '',
    linkpath: spec.linkpath,
    size: hasBody ? spec.size : 0,
  };
}

export function entryRecord(e: NormalisedEntry, size: number, sha256: string | undefined): EntryRecord {
  // Built key by key (same order as before: metadata.json's bytes do not change), no spread per entry.
  const record: EntryRecord = { path: e.path, type: e.type, size };
  if (sha256 !== undefined) record.sha256 = sha256;
  record.mode = e.mode;
  record.mtime = e.mtime.toISOString();
  if (e.linkpath !== undefined) record.linkpath = e.linkpath;
  return record;
}
