/**
 * Which backup an incremental run is compared with (docs/incremental.md): the newest readable
 * backup of the same cluster and the run's components in the first target, present in every target, unless a full is
 * due (--full, `fullEvery`, `maxChain`) — then a full that records file signatures.
 */
import { damageMarkerName, parseBackupName, sanitizeClusterName } from '../archive/names.js';
import type { BackupMetadata } from '../archive/metadata.js';
import { listBackupsLazily, METADATA_ENCRYPTED_NOTE, ofCluster, type BackupSummary } from '../catalog/listing.js';
import { heldToArchive, sizeMismatch } from './base-sidecar.js';
import { recordedDigests } from '../catalog/objects.js';
import { firstDamaged } from '../catalog/damage.js';
import type { Reporter } from '../report/events.js';
import type { IncrementalBase } from '../runner/incremental.js';
import { filesPrefix } from '../runner/entry-paths.js';
import type { Target } from '../../targets/types.js';

export interface IncrementalPolicy {
  /** full: record signatures but store everything; incremental: against the newest backup. */
  mode: 'full' | 'incremental';
  /** A full once the chain's full is older than this (ms). */
  fullEveryMs?: number;
  /** A full once the chain holds this many incrementals. */
  maxChain?: number;
}

/**
 * What runBackup gets: the base to compare with, or none (a full). Only the sidecars it needs are
 * read — the newest backup's, and its chain members' only when its metadata does not name them
 * (backups made before `base.chain` was recorded) — not every backup the target holds.
 * `components`: what this run backs up; a backup that did not back up one of them is no base.
 */
export async function chooseIncrementalBase(
  policy: IncrementalPolicy,
  targets: Target[],
  cluster: string,
  components: string[],
  reporter: Reporter,
  { identities, now = new Date() }: { identities?: string[]; now?: Date } = {},
): Promise<{ base?: IncrementalBase }> {
  if (policy.mode === 'full' || targets.length === 0) return {};
  const full = (why: string) => {
    reporter.emit({ type: 'warning', message: `incremental: a full backup is made: ${why}` });
    return {};
  };
  const first = targets[0]!;
  const clusterName = sanitizeClusterName(cluster);
  const listing = await listBackupsLazily(first, { only: (p) => p.cluster === clusterName, identities });
  const { newest, passedOver, lacking } = await newestUsable(listing, cluster, components);
  if (!newest) {
    const holding = lacking ? ` that backed up ${components.join(', ')}` : '';
    return full(`${first.uri} holds no readable backup of cluster ${cluster}${holding} to compare with${passedOverNote(passedOver)}`);
  }
  // Compared with it every collected file would be sent again, and the run would depend on it for nothing.
  if (unsigned(newest.metadata!))
    return full(`${newest.name} records no file signatures to compare with (a backup made without --incremental or --full records none)`);
  // Still right (its references are to bytes that exist), but it sends what the newer one holds.
  if (passedOver) reporter.emit({ type: 'warning', message: `incremental: compared with ${newest.name}, an older backup${passedOverNote(passedOver)}` });
  const chain = await chainOf(newest, listing, first);
  if (chain.gap) return full(`the chain of ${newest.name} is incomplete in ${first.uri}: ${chain.gap}`);
  // A verify found one damaged (catalog/damage.ts): every backup on it would be unrestorable too.
  const damaged = firstDamaged(chain.names, new Set(listing.backups.flatMap((b) => b.sidecars)));
  if (damaged) return full(damagedNote(damaged, newest.name, first));
  const increments = chain.names.length - 1;
  if (policy.maxChain !== undefined && increments >= policy.maxChain) return full(`the chain has ${increments} incrementals (maxChain ${policy.maxChain})`);
  const fullName = chain.names.at(-1)!;
  const fullAt = parseBackupName(fullName)!.time;
  if (policy.fullEveryMs !== undefined && now.getTime() - fullAt.getTime() >= policy.fullEveryMs) {
    return full(`the chain's full backup (${fullName}) is older than fullEvery`);
  }
  for (const other of targets.slice(1)) {
    for (const member of chain.names) {
      if (!(await other.stat(member))) return full(`${other.uri} lacks ${member}, which the chain of ${newest.name} needs`);
      if (await other.stat(damageMarkerName(member))) return full(damagedNote(member, newest.name, other));
    }
  }
  // Its references come from the sidecar: one edited or replaced would make them wrong (base-sidecar.ts).
  const held = await heldToArchive(first, newest, reporter, { identities });
  if ('problem' in held) return full(held.problem);
  // The digests the next run holds this chain's members to: the base's as stored, then those its own run recorded.
  const below = newest.metadata!.base;
  const chainSha256 = !below ? [held.sha256] : below.chainSha256?.length === chain.names.length - 1 ? [held.sha256, ...below.chainSha256] : undefined;
  return { base: { metadata: newest.metadata!, archive: newest.name, sha256: held.sha256, chain: chain.names, ...(chainSha256 ? { chainSha256 } : {}) } };
}

type Listing = Awaited<ReturnType<typeof listBackupsLazily>>;

function damagedNote(damaged: string, newest: string, target: Target): string {
  const which = damaged === newest ? damaged : `${damaged}, of the chain of ${newest},`;
  return `${which} was found damaged by a verify (${damageMarkerName(damaged)} in ${target.uri}); no backup is based on it`;
}

/**
 * The newest backup of the cluster whose metadata reads, that did not fail and that backed up
 * every component of `components`, read newest first by name. A copy stored under another name
 * than its run's (renamed) is never a base; for every other backup the name's time is the run's,
 * so name order is the order by metadata. A backup of other components (another job's, an
 * `--only` run) holds none of this run's files: based on it, every file would be sent again and
 * the run's chain would run through the other's backups, tying their retention together.
 * `lacking`: a readable backup was passed over for that.
 */
async function newestUsable(
  listing: Listing,
  cluster: string,
  components: string[],
): Promise<{ newest?: BackupSummary<BackupMetadata>; passedOver?: BackupSummary; lacking?: boolean }> {
  let passedOver: BackupSummary | undefined;
  let lacking = false;
  for (const candidate of listing.backups) {
    const b = await listing.read(candidate);
    if (!b.metadata) passedOver ??= b;
    if (!b.metadata || b.renamed || !ofCluster(b, cluster) || b.status === 'failed') continue;
    const backedUp = new Set(b.components.map((c) => c.name));
    if (components.every((c) => backedUp.has(c))) return { newest: b, passedOver };
    lacking = true;
  }
  return { passedOver, lacking };
}

/**
 * Whether the backup's collected files have no signatures to compare with (docs/incremental.md):
 * a plain `apply` records none, so nothing it holds can be found unchanged, and an incremental on
 * it would store every file again and still keep it from being pruned. Runs that record them say
 * so (`fileSignatures`); a backup made before that field counts as one without when it collected
 * files and recorded a signature for none. A backup of command outputs alone is a base all the
 * same (content-addressed outputs).
 */
function unsigned(metadata: BackupMetadata): boolean {
  // Such a run whose files all changed while they were listed recorded no stat, and is a base.
  if (metadata.fileSignatures) return false;
  // Entry paths are <component>/<host>/files/<path> (runner/entry-paths.ts); neither segment holds a '/'.
  const collected = new Set(metadata.components.flatMap((c) => c.hosts.map((h) => filesPrefix(c.name, h.name))));
  let files = false;
  for (const e of metadata.entries) {
    if (e.stat) return false;
    if (e.type === 'file' && collected.has(e.path.split('/', 3).join('/'))) files = true;
  }
  return files;
}

/** Why the newest backup whose metadata did not read is no base, and what makes it one. */
function passedOverNote(backup: BackupSummary | undefined): string {
  if (!backup) return '';
  const hint =
    backup.metadataNote === METADATA_ENCRYPTED_NOTE ? ': give --identity or the config encryption.identityFile (or make backups with --plain-metadata)' : '';
  return ` (${backup.name}: ${backup.metadataNote}${hint})`;
}

/**
 * The archive names of the backup, its base, that one's base… down to the full, and what breaks
 * the chain in the target (a member it does not hold). An incremental's metadata names its chain
 * (`base.chain`); an older one without it is followed member by member, each checked to be the
 * backup its child names.
 */
async function chainOf(newest: BackupSummary<BackupMetadata>, listing: Listing, target: Target): Promise<{ names: string[]; gap?: string }> {
  const listed = new Map(listing.backups.map((b) => [b.name, b]));
  const recorded = newest.metadata!.base?.chain;
  const missing = (name: string) => `${name} is missing`;
  if (recorded) {
    const names = [newest.name, ...recorded];
    const absent = names.find((n) => !listed.has(n));
    if (absent) return { names, gap: missing(absent) };
    const replaced = await replacedMember(
      target,
      recorded.map((n) => listed.get(n)!),
      newest.metadata!.base!.chainSha256,
    );
    return { names, ...(replaced ? { gap: replaced } : {}) };
  }
  const names = [newest.name];
  for (let b = newest; b.metadata!.base;) {
    const { archive, backupId } = b.metadata!.base;
    const next = listed.get(archive);
    if (!next || names.includes(archive)) return { names, gap: missing(archive) };
    const read = await listing.read(next);
    if (read.metadata?.backupId !== backupId)
      return { names, gap: `${archive} is not the backup ${b.name} names (its metadata ${read.metadata ? 'names another' : 'does not read'})` };
    names.push(archive);
    b = read;
  }
  return { names };
}

/**
 * The first chain member that is no longer the archive the chain was built on: its `.sha256`
 * sidecar no longer records the digest the newest backup's run recorded for it (another backup
 * stored under its name, with its own sidecars), or records another size than the target lists
 * (the archive overwritten, its sidecars left). Either would be built on, and nothing based on it
 * would restore (restore refuses: "the base was replaced"). Only the small sidecars are read; a
 * chain recorded without digests is held to the sizes alone.
 */
async function replacedMember(target: Target, members: BackupSummary[], digests: string[] | undefined): Promise<string | undefined> {
  for (const [i, member] of members.entries()) {
    const recorded = await recordedDigests(target, member.name).catch((e: Error) => e);
    if (recorded instanceof Error) return `${member.name}'s .sha256 sidecar could not be read: ${recorded.message}`;
    const now = recorded?.archive;
    if (digests?.length === members.length && now !== digests[i]) {
      const says = recorded?.damaged ? 'is damaged' : now ? `says ${now}` : 'is gone';
      return `${member.name} is not the backup the chain was built on (its .sha256 sidecar ${says}, the chain recorded ${digests[i]}): it was replaced`;
    }
    const resized = sizeMismatch(member.name, member.size, recorded?.storedSize, target);
    if (resized) return resized;
  }
  return undefined;
}
