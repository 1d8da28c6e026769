import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { openArchiveReader, type ArchiveReaderOptions, type ReadEntrySpec } from './reader.js';
import type { ArchiveFormat, EntryRecord, EntryType } from './types.js';
import { METADATA_ENTRY, SIGNATURE_ENTRY } from './writer.js';
import { MAX_METADATA_BYTES, readLimited } from './limits.js';
import { entryRules } from './entry-rules.js';
import { brokenReadOf, describeBrokenRead, readPosition } from './broken-read.js';

export interface VerifyProblem {
  /** The entry concerned, or undefined for the archive as a whole. */
  path?: string;
  kind:
    'sha256' | 'size' | 'header' | 'missing' | 'extra' | 'unreadable' | 'broken-read' | 'no-metadata' | 'recorded-error' | 'changed-during-read' | 'refused';
  message: string;
}

/**
 * Worth saying, but the archive is as recorded and restores: a file that changed while the host's
 * tar read it; an archive stored under another backup's name (`renamed`: it restores as the
 * backup it was made as, made-as.ts); a metadata sidecar that cannot be read (restore goes by the
 * archive's own metadata.json; list, prune and --incremental say what they cannot read).
 */
export function isWarning(problem: { kind: string }): boolean {
  return problem.kind === 'changed-during-read' || problem.kind === 'renamed' || isSidecarWarning(problem);
}

/** Warnings of a sidecar the backup's restore does not need but list, prune or the next --incremental go by (catalog/verify.ts). */
export const SIDECAR_WARNINGS = ['unreadable-sidecar', 'sidecar-size'] as const;
export type SidecarWarning = (typeof SIDECAR_WARNINGS)[number];

export function isSidecarWarning<P extends { kind: string }>(problem: P): problem is P & { kind: SidecarWarning } {
  return (SIDECAR_WARNINGS as readonly string[]).includes(problem.kind);
}

export interface VerifyReport {
  ok: boolean;
  /** Undefined when the read broke off: nothing was checked against metadata.json, its last entry. */
  entriesChecked?: number;
  problems: VerifyProblem[];
  /** The parsed metadata.json, when it could be read. */
  metadata?: unknown;
  /** metadata.json's bytes as stored (what a signature covers). */
  metadataBytes?: Buffer;
  /** The `metadata.json.sig` entry of a signed backup. */
  signature?: Buffer;
}

/**
 * Re-hash every entry and compare with metadata.json (the last entry); name every mismatch, and
 * every entry for which restore would refuse the backup (entry-rules.ts).
 */
export async function verifyArchive(stream: Readable, format: ArchiveFormat, options?: ArchiveReaderOptions): Promise<VerifyReport> {
  const seen = new Map<string, ReadDigest>();
  const problems: VerifyProblem[] = [];
  const rules = entryRules();
  const refused = (path: string | undefined, message: string) => problems.push({ path, kind: 'refused', message: `${message}: restore refuses this backup` });
  let metadata: unknown;
  let metadataBytes: Buffer | undefined;
  let signature: Buffer | undefined;
  let current: string | undefined;
  let lastRead: string | undefined;
  let stoppedByDamage = false;
  try {
    for await (const { entry, body } of openArchiveReader(stream, format, { ...options, onUnsupportedEntry: rules.unsupported })) {
      current = entry.path;
      const broken = rules.check(entry);
      if (broken) refused(entry.path, broken);
      if (entry.path === METADATA_ENTRY || entry.path === SIGNATURE_ENTRY) {
        if (entry.path === SIGNATURE_ENTRY) signature = await readLimited(body, 64 * 1024, 'the signature entry');
        else metadata = JSON.parse((metadataBytes = await readLimited(body, MAX_METADATA_BYTES, METADATA_ENTRY)).toString('utf8'));
        lastRead = entry.path;
        current = undefined; // read whole: a failure after it is not this entry's
        continue;
      }
      const hash = createHash('sha256');
      let size = 0;
      for await (const c of body) {
        size += (c as Buffer).length;
        hash.update(c as Buffer);
      }
      seen.set(entry.path, { ...headerFields(entry), size, ...(entry.type === 'file' ? { sha256: hash.digest('hex') } : {}) });
      lastRead = entry.path;
      current = undefined;
    }
  } catch (err) {
    // The read's failure, not the archive's: what is unread is neither missing nor damaged.
    const broken = brokenReadOf(err);
    if (broken) {
      const message = `${describeBrokenRead(readPosition(current, lastRead), broken)}; what follows was not checked: verify again`;
      problems.push({ path: current, kind: 'broken-read', message });
      return { ok: false, problems, metadata, metadataBytes, signature };
    }
    stoppedByDamage = true;
    problems.push({
      path: current,
      kind: 'unreadable',
      message: `${current ? `entry '${current}': ` : ''}the archive is damaged: ${(err as Error).message}`,
    });
  }
  const recorded = (metadata as { entries?: unknown } | undefined)?.entries;
  const danglingLink = Array.isArray(recorded) ? rules.finish(recorded as EntryRecord[]) : undefined;
  if (danglingLink) refused(undefined, danglingLink);
  // A read that broke before metadata.json (the last entry) did not find it missing: the damage is the finding.
  if (!(stoppedByDamage && metadata === undefined)) problems.push(...compareWithMetadata(recorded, seen));
  const entriesChecked = Array.isArray(recorded) ? recorded.length : seen.size;
  return { ok: problems.every(isWarning), entriesChecked, problems, metadata, metadataBytes, signature };
}

/**
 * An entry as read back: its size, its sha256 when it is a regular file, and what its header
 * says restore is to make of it (kind, permission bits, link target).
 */
export interface ReadDigest {
  size: number;
  sha256?: string;
  type?: EntryType;
  mode?: number;
  linkpath?: string;
}

/** The header fields of a read entry that metadata.json records too (ReadDigest). */
export function headerFields(entry: Pick<ReadEntrySpec, 'type' | 'mode' | 'linkpath'>): Pick<ReadDigest, 'type' | 'mode' | 'linkpath'> {
  return { type: entry.type, mode: entry.mode, linkpath: entry.linkpath };
}

/**
 * How an entry's header disagrees with its record, if it does. Restore makes what the header
 * says (a setuid mode, a link's target), while the sha256 and a signature cover only the record.
 */
function headerMismatch(rec: EntryRecord, got: ReadDigest): string | undefined {
  if (got.type !== undefined && got.type !== rec.type) return `is a ${got.type} in the archive, ${METADATA_ENTRY} says a ${rec.type}`;
  if (got.mode !== undefined && rec.mode !== undefined && got.mode !== rec.mode) {
    return `has mode ${got.mode.toString(8)} in the archive, ${METADATA_ENTRY} says ${rec.mode.toString(8)}`;
  }
  if ((rec.type === 'symlink' || rec.type === 'hardlink') && got.type !== undefined && got.linkpath !== rec.linkpath) {
    return `links to '${got.linkpath ?? ''}' in the archive, ${METADATA_ENTRY} says '${rec.linkpath ?? ''}'`;
  }
  return undefined;
}

/** What `verify` and restore say of an archive without metadata.json. */
export const NO_METADATA = `the archive has no ${METADATA_ENTRY} (truncated, or not made by lsbackup)`;

/**
 * The one check of an archive's entries against metadata.json's list (`verify` and the restore's
 * staging pass both use it): each listed entry is there with the recorded size and sha256, none
 * is there unlisted, and what the list itself says (stored incomplete, changed while read).
 */
export function compareWithMetadata(recorded: unknown, seen: ReadonlyMap<string, ReadDigest>): VerifyProblem[] {
  // One without an entries list fails the schema first (read-metadata.ts), which says so: this is one not there.
  if (!Array.isArray(recorded)) return [{ kind: 'no-metadata', message: NO_METADATA }];
  const problems: VerifyProblem[] = [];
  const listed = new Set<string>();
  for (const rec of recorded as EntryRecord[]) {
    // An incremental's unchanged file: its bytes are in the backup `ref` (checked with that one).
    if (rec.ref !== undefined) continue;
    listed.add(rec.path);
    const got = seen.get(rec.path);
    if (!got) {
      problems.push({ path: rec.path, kind: 'missing', message: `entry '${rec.path}' is listed in ${METADATA_ENTRY} but missing from the archive` });
      continue;
    }
    const header = headerMismatch(rec, got);
    if (header) {
      problems.push({ path: rec.path, kind: 'header', message: `entry '${rec.path}' ${header} (tampered archive?)` });
    } else if (got.size !== rec.size) {
      problems.push({ path: rec.path, kind: 'size', message: `entry '${rec.path}' has ${got.size} bytes, ${METADATA_ENTRY} says ${rec.size}` });
    } else if (rec.sha256 && got.sha256 !== rec.sha256) {
      problems.push({
        path: rec.path,
        kind: 'sha256',
        message: `entry '${rec.path}' is corrupt: its sha256 differs from ${METADATA_ENTRY} (${got.sha256}, ${METADATA_ENTRY} says ${rec.sha256})`,
      });
    }
    if (rec.error) problems.push({ path: rec.path, kind: 'recorded-error', message: `entry '${rec.path}' was stored incomplete: ${rec.error}` });
    if (rec.changedDuringRead) {
      problems.push({
        path: rec.path,
        kind: 'changed-during-read',
        message: `entry '${rec.path}' changed on its host while it was read (stored as read; a file that shrank is zero-padded)`,
      });
    }
  }
  for (const path of seen.keys()) {
    if (!listed.has(path)) problems.push({ path, kind: 'extra', message: `entry '${path}' is not listed in ${METADATA_ENTRY} (tampered archive?)` });
  }
  return problems;
}
