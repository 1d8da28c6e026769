/**
 * What backups a target holds: every `lsbackup-<cluster>-<time>.<ext>[.age]` object with its
 * sidecars. Anything else in the target (foreign files, temp files) is ignored.
 */
import pLimit from 'p-limit';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  damageMarkerName,
  parseBackupName,
  sanitizeClusterName,
  sidecarNames,
  type BackupMetadata,
  type MetadataHead,
  type ParsedBackupName,
  type RunStatus,
} from '../archive/index.js';
import type { StoredObject, Target } from '../../targets/types.js';
import { openObject, type DecryptOptions } from './objects.js';
import { readMetadata, readMetadataHead } from '../archive/read-metadata.js';
import { formatProblem, isLsError, type Problem } from '../errors.js';
import { newestFirst } from './order.js';
import { firstDamaged } from './damage.js';
import { madeAsAnother } from '../archive/made-as.js';

/** Metadata sidecars read at once: an S3 client has 50 sockets, and a target may hold thousands of backups. */
export const METADATA_READS = 16;

/** The note of a backup whose metadata sidecar is encrypted and no identity was given. */
export const METADATA_ENCRYPTED_NOTE = 'metadata encrypted (pass --identity)';

export interface BackupSummary<Metadata extends MetadataHead = MetadataHead> extends ParsedBackupName {
  /** When the run started, from the metadata; the name's time only when the metadata was not read. */
  time: Date;
  /** Sanitised cluster name, from the metadata; the name's only when the metadata was not read. */
  cluster: string;
  /** The config job that made it (metadata `job`); undefined for `apply`, for older backups and when not read. */
  job?: string;
  /** The name's time or cluster disagrees with the metadata: a copy stored under another name. */
  renamed: boolean;
  /** Stored size of the archive (encrypted size when encrypted). */
  size: number;
  /** From the metadata sidecar; 'unknown' when it is missing or cannot be read. */
  status: RunStatus | 'unknown';
  /** Components with their status, from the metadata sidecar. */
  components: { name: string; status: string }[];
  metadata?: Metadata;
  /** The sha256 of the metadata sidecar as stored (its ciphertext when encrypted), when it was read whole. */
  metadataSidecarSha256?: string;
  /** Why the metadata is not shown (missing, encrypted without a key, unreadable). */
  metadataNote?: string;
  /** The sidecar objects that belong to this archive (deleted with it), its damage marker too. */
  sidecars: string[];
  /**
   * A verify found this backup unrestorable: the archive it found damaged, this one's own name
   * or a member of its chain (damage.ts). Its `status` stays what its run recorded.
   */
  damaged?: string;
}

/**
 * Is `backup` one of `cluster`'s (the cluster as named: -b's directory, --cluster, the config)?
 * Archive names carry the cluster sanitised, so two clusters can share one (`eu_west` and
 * `eu-west`, `kunde-müller` and `kunde-möller`): where the metadata was read, the cluster it
 * records decides, or one cluster's retention and `latest` would take the other's backups for its own.
 */
export function ofCluster(backup: BackupSummary, cluster: string): boolean {
  return backup.metadata ? backup.metadata.cluster === cluster : backup.cluster === sanitizeClusterName(cluster);
}

export interface ListOptions extends DecryptOptions {
  /** false: names and sizes only, no sidecar read. */
  withMetadata?: boolean;
  /** Only the archives whose parsed name passes (decided before any sidecar is read). */
  only?: (name: ParsedBackupName) => boolean;
  /** Told the bytes of each metadata sidecar as it is read (prune's progress on a remote target). */
  count?: (bytes: number) => void;
}

/**
 * The backups in the target (names and sizes, newest first by the name's time), and `read` to
 * read one's metadata sidecar only when it is needed: a caller after the newest backup and its
 * chain reads a few sidecars, not every one the target holds.
 */
export async function listBackupsLazily(
  target: Target,
  options: Pick<ListOptions, 'only'> & DecryptOptions = {},
): Promise<{ backups: BackupSummary[]; read: (backup: BackupSummary) => Promise<BackupSummary<BackupMetadata>> }> {
  const objects = await target.list();
  const byName = new Map(objects.map((o) => [o.name, o]));
  const backups = await listBackups(target, { ...options, withMetadata: false }, objects);
  return { backups, read: (b) => summarise(target, b, byName.get(b.name)!, byName, options, readMetadata, { digest: true }) };
}

/** Every backup in the target, newest first. */
export async function listBackups(target: Target, options: ListOptions = {}, listed?: StoredObject[]): Promise<BackupSummary[]> {
  const objects = listed ?? (await target.list());
  const byName = new Map(objects.map((o) => [o.name, o]));
  const backups = objects.flatMap((o) => {
    const parsed = parseBackupName(o.name);
    return parsed && (options.only?.(parsed) ?? true) ? [{ parsed, object: o }] : [];
  });
  const limit = pLimit(METADATA_READS);
  const readOptions = options.withMetadata === false ? undefined : options;
  // Each sidecar only up to its entry list: the rest is all but a few KiB of it (20 MB for 100,000 files).
  const summaries = await Promise.all(
    backups.map(({ parsed, object }) => limit(() => summarise(target, parsed, object, byName, readOptions, readMetadataHead))),
  );
  return withChainDamage(summaries, byName).sort(newestFirst);
}

/** One backup by name, its whole metadata; undefined when the target has no such archive. */
export async function findBackup(target: Target, name: string, options: DecryptOptions = {}): Promise<BackupSummary<BackupMetadata> | undefined> {
  const parsed = parseBackupName(name);
  if (!parsed) return undefined;
  const objects = await target.list();
  const object = objects.find((o) => o.name === name);
  if (!object) return undefined;
  const byName = new Map(objects.map((o) => [o.name, o]));
  // Its chain as its metadata records it (an older backup's: its base only; list follows the whole chain).
  return withChainDamage([await summarise(target, parsed, object, byName, options, readMetadata)], byName)[0]!;
}

/**
 * Each backup not damaged itself whose chain holds one a verify found damaged gets that one's
 * name in `damaged`. The chain as its metadata records it (`base.chain`), else followed through
 * the metadata of `summaries`.
 */
function withChainDamage<B extends BackupSummary>(summaries: B[], objects: ReadonlyMap<string, StoredObject>): B[] {
  const byName = new Map<string, BackupSummary>(summaries.map((b) => [b.name, b]));
  const names = new Set(objects.keys());
  return summaries.map((b) => {
    if (b.damaged || !b.metadata?.base) return b;
    const damaged = firstDamaged(recordedChain(b, byName), names);
    return damaged ? { ...b, damaged } : b;
  });
}

/** The archive names of a backup's base, its base's… as far as the metadata at hand tells. */
function recordedChain(backup: BackupSummary, byName: ReadonlyMap<string, BackupSummary>): string[] {
  const recorded = backup.metadata?.base?.chain;
  if (recorded) return recorded;
  const chain: string[] = [];
  for (let base = backup.metadata?.base; base && !chain.includes(base.archive); base = byName.get(base.archive)?.metadata?.base) chain.push(base.archive);
  return chain;
}

async function summarise<Metadata extends MetadataHead>(
  target: Target,
  parsed: ParsedBackupName,
  object: StoredObject,
  all: Map<string, StoredObject>,
  readOptions: (DecryptOptions & Pick<ListOptions, 'count'>) | undefined,
  read: (body: Readable, backup: string, from: string) => Promise<Metadata>,
  { digest = false }: { digest?: boolean } = {},
): Promise<BackupSummary<Metadata>> {
  const plain = sidecarNames(parsed.name, false);
  const sealed = sidecarNames(parsed.name, true);
  const marker = damageMarkerName(parsed.name);
  const sidecars = [plain.sha256, plain.metadata, sealed.metadata, plain.signature, marker].filter((n) => all.has(n));
  const summary: BackupSummary<Metadata> = {
    ...parsed,
    renamed: false,
    size: object.size,
    status: 'unknown',
    components: [],
    sidecars,
    ...(all.has(marker) ? { damaged: parsed.name } : {}),
  };
  if (!readOptions) return summary;
  const metadataName = all.has(plain.metadata) ? plain.metadata : all.has(sealed.metadata) ? sealed.metadata : undefined;
  if (!metadataName) return { ...summary, metadataNote: 'no metadata sidecar' };
  if (metadataName === sealed.metadata && !readOptions.identities?.length) return { ...summary, metadataNote: METADATA_ENCRYPTED_NOTE };
  try {
    const hash = digest ? createHash('sha256') : undefined;
    // No tap when neither is wanted: a listing's head read then closes the object itself, at once.
    const chunks = hash || readOptions.count ? (bytes: number, chunk: Buffer) => (readOptions.count?.(bytes), hash?.update(chunk)) : undefined;
    const metadata = await read(await openObject(target, metadataName, readOptions, chunks), parsed.name, metadataName);
    const time = new Date(metadata.startedAt);
    const cluster = sanitizeClusterName(metadata.cluster);
    return {
      ...summary,
      time,
      cluster,
      ...(typeof metadata.job === 'string' ? { job: metadata.job } : {}),
      renamed: madeAsAnother(parsed, metadata) !== undefined,
      metadata,
      ...(hash ? { metadataSidecarSha256: hash.digest('hex') } : {}),
      status: metadata.status,
      // Components that had no hosts in this cluster took no part: they are not part of the backup.
      components: metadata.components.filter((c) => c.hosts.length > 0).map((c) => ({ name: c.name, status: c.status })),
    };
  } catch (e) {
    // A damaged or foreign sidecar: listed with its first problem (show reads the archive's own copy).
    const problem = isLsError(e) && e.code === 'EMETADATA' ? formatProblem((e.details.problems as Problem[])[0]!) : (e as Error).message;
    return { ...summary, metadataNote: `metadata unreadable: ${problem}` };
  }
}
