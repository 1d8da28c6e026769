/**
 * `verify`: the sidecars say what the archive says. `list`, `prune`, `latest` and the choice of
 * an incremental's base read the `.metadata.json` sidecar, never the archive, so a sidecar of
 * another backup (copied over, a sync that mixed two runs stored under one name in two targets)
 * had the catalog describe a backup the archive is not, and retention and incrementals act on
 * it, while verify said OK. The signature sidecar is what `ssh-keygen -Y verify` is pointed at.
 */
import { isDeepStrictEqual } from 'node:util';
import { sidecarNames } from '../archive/index.js';
import type { Target } from '../../targets/types.js';
import { readText, type DecryptOptions } from './objects.js';

/** What the archive itself holds (verifyArchive's report: metadata.json already parsed, once). */
export interface ArchiveRecords {
  metadata?: unknown;
  signature?: Buffer;
}

export interface SidecarMismatch {
  kind: 'metadata' | 'signature';
  message: string;
  /** The metadata sidecar cannot be read or is not lsbackup metadata: damaged, not another backup's word. */
  unreadable?: boolean;
}

/** Each sidecar present that disagrees with the archive; a missing one is no mismatch (list says so). */
export async function sidecarMismatches(target: Target, name: string, archive: ArchiveRecords, options: DecryptOptions): Promise<SidecarMismatch[]> {
  const mismatches: SidecarMismatch[] = [];
  const metadata = await metadataSidecar(target, name, options);
  if (metadata && archive.metadata !== undefined) {
    const sidecar = await readText(target, metadata, options).catch((e: Error) => e);
    const found = sidecar instanceof Error ? undefined : parsed(sidecar);
    if (!isDeepStrictEqual(found, archive.metadata)) {
      mismatches.push({
        kind: 'metadata',
        unreadable: backupIdOf(found) === NOT_METADATA,
        message:
          `the ${metadata} sidecar is not this archive's metadata.json (` +
          (sidecar instanceof Error
            ? `it cannot be read: ${sidecar.message}`
            : backupIdOf(found) === NOT_METADATA
              ? 'it is not lsbackup metadata: empty, cut short or of another program'
              : sameBackup(found, archive.metadata)
                ? `backup ${backupIdOf(found)} too, but it differs at ${firstDifference(found, archive.metadata)}`
                : `backup ${backupIdOf(found)}; the archive is backup ${backupIdOf(archive.metadata)}`) +
          "): list, prune, latest and --incremental read the sidecar; put the archive's own metadata.json there",
      });
    }
  }
  const signature = sidecarNames(name, false).signature;
  if (await target.stat(signature)) {
    const stored = await readText(target, signature, {});
    if (stored !== archive.signature?.toString('utf8')) {
      mismatches.push({
        kind: 'signature',
        message: `the ${signature} sidecar is not this archive's signature (${archive.signature ? "it differs from the archive's metadata.json.sig entry" : 'the archive has no metadata.json.sig entry'})`,
      });
    }
  }
  return mismatches;
}

/** The metadata sidecar to compare: the plain one, or the encrypted one when an identity reads it. */
async function metadataSidecar(target: Target, name: string, options: DecryptOptions): Promise<string | undefined> {
  const plain = sidecarNames(name, false).metadata;
  if (await target.stat(plain)) return plain;
  const sealed = sidecarNames(name, true).metadata;
  return options.identities?.length && (await target.stat(sealed)) ? sealed : undefined;
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const sameBackup = (a: unknown, b: unknown) => backupIdOf(a) === backupIdOf(b);

/** Where the sidecar first differs from the archive's metadata.json: a top-level key, or the entry whose record differs. */
function firstDifference(sidecar: unknown, archive: unknown): string {
  const a = (sidecar ?? {}) as Record<string, unknown>;
  const b = (archive ?? {}) as Record<string, unknown>;
  const key = [...new Set([...Object.keys(b), ...Object.keys(a)])].find((k) => !isDeepStrictEqual(a[k], b[k]));
  if (key !== 'entries' || !Array.isArray(a.entries) || !Array.isArray(b.entries)) return `'${key ?? '(its kind)'}'`;
  const [ours, theirs] = [b.entries as { path?: unknown }[], a.entries as { path?: unknown }[]];
  const at = Array.from({ length: Math.max(ours.length, theirs.length) }, (_, i) => i).find((i) => !isDeepStrictEqual(ours[i], theirs[i]))!;
  return `the record of entry '${String((ours[at] ?? theirs[at])?.path)}'`;
}

const NOT_METADATA = '(none: not lsbackup metadata)';

function backupIdOf(metadata: unknown): string {
  const id = (metadata as { backupId?: unknown } | undefined)?.backupId;
  return typeof id === 'string' ? id : NOT_METADATA;
}
