/**
 * What backups a target holds: every `lsbackup-<cluster>-<time>.<ext>[.age]` object with its
 * sidecars. Anything else in the target (foreign files, temp files) is ignored.
 */
import { parseBackupName, sidecarNames, type BackupMetadata, type ParsedBackupName, type RunStatus } from '../archive/index.js';
import type { StoredObject, Target } from '../../targets/types.js';
import { readText, type DecryptOptions } from './objects.js';

export interface BackupSummary extends ParsedBackupName {
  /** Stored size of the archive (encrypted size when encrypted). */
  size: number;
  /** From the metadata sidecar; 'unknown' when it is missing or cannot be read. */
  status: RunStatus | 'unknown';
  /** Components with their status, from the metadata sidecar. */
  components: { name: string; status: string }[];
  metadata?: BackupMetadata;
  /** Why the metadata is not shown (missing, encrypted without a key, unreadable). */
  metadataNote?: string;
  /** The sidecar objects that belong to this archive (deleted with it). */
  sidecars: string[];
}

/** Every backup in the target, newest first. `withMetadata: false` skips reading the sidecars. */
export async function listBackups(target: Target, options: DecryptOptions & { withMetadata?: boolean } = {}): Promise<BackupSummary[]> {
  const objects = await target.list();
  const byName = new Map(objects.map((o) => [o.name, o]));
  const backups = objects.flatMap((o) => {
    const parsed = parseBackupName(o.name);
    return parsed ? [{ parsed, object: o }] : [];
  });
  const summaries = await Promise.all(
    backups.map(({ parsed, object }) => summarise(target, parsed, object, byName, options.withMetadata === false ? undefined : options)),
  );
  return summaries.sort(newestFirst);
}

/** One backup by name; undefined when the target has no such archive. */
export async function findBackup(target: Target, name: string, options: DecryptOptions = {}): Promise<BackupSummary | undefined> {
  const parsed = parseBackupName(name);
  if (!parsed) return undefined;
  const objects = await target.list();
  const object = objects.find((o) => o.name === name);
  if (!object) return undefined;
  return summarise(target, parsed, object, new Map(objects.map((o) => [o.name, o])), options);
}

export function newestFirst(a: { time: Date; sequence: number }, b: { time: Date; sequence: number }): number {
  return b.time.getTime() - a.time.getTime() || b.sequence - a.sequence;
}

async function summarise(
  target: Target,
  parsed: ParsedBackupName,
  object: StoredObject,
  all: Map<string, StoredObject>,
  readOptions: DecryptOptions | undefined,
): Promise<BackupSummary> {
  const plain = sidecarNames(parsed.name, false);
  const sealed = sidecarNames(parsed.name, true);
  const sidecars = [plain.sha256, plain.metadata, sealed.metadata, plain.signature].filter((n) => all.has(n));
  const summary: BackupSummary = { ...parsed, size: object.size, status: 'unknown', components: [], sidecars };
  if (!readOptions) return summary;
  const metadataName = all.has(plain.metadata) ? plain.metadata : all.has(sealed.metadata) ? sealed.metadata : undefined;
  if (!metadataName) return { ...summary, metadataNote: 'no metadata sidecar' };
  if (metadataName === sealed.metadata && !readOptions.identities?.length) return { ...summary, metadataNote: 'metadata encrypted (pass --identity)' };
  try {
    const metadata = JSON.parse(await readText(target, metadataName, readOptions)) as BackupMetadata;
    return {
      ...summary,
      metadata,
      status: metadata.status,
      // Components that had no hosts in this cluster took no part: they are not part of the backup.
      components: metadata.components.filter((c) => c.hosts.length > 0).map((c) => ({ name: c.name, status: c.status })),
    };
  } catch (e) {
    return { ...summary, metadataNote: `metadata unreadable: ${(e as Error).message}` };
  }
}
