/**
 * An incremental builds its references (path, size, sha256, signature) from its base's metadata
 * sidecar, not from the archive (docs/incremental.md, "Chain rules"). A sidecar edited or
 * replaced in the target would give references that do not match the bytes the base holds: the
 * run would succeed and its backup not restore. So the sidecar is held to the archive first:
 * to the digest of the sidecar as stored that the archive's `.sha256` sidecar records beside the
 * archive's own (written with them, engine/runner/backup.ts), which costs no read of the
 * archive; a backup made before that digest was recorded is read once, whole, and its own
 * metadata.json and digest compared. The archive itself is held to the stored size its `.sha256`
 * records (the target's listing, no read): an overwrite of another size is caught, bit rot only by
 * a verify or the restore.
 */
import { isDeepStrictEqual } from 'node:util';
import { formatFromName, METADATA_ENTRY, openArchiveReader, sidecarNames, type BackupMetadata } from '../archive/index.js';
import { readMetadataEntry } from '../archive/read-metadata.js';
import type { BackupSummary } from '../catalog/listing.js';
import { decrypted, isEncrypted, readStored, recordedDigests, type DecryptOptions } from '../catalog/objects.js';
import type { Reporter } from '../report/events.js';
import type { Target } from '../../targets/types.js';

/** The base's stored digest (its `.sha256`), or why its metadata sidecar is not the archive's and it is no base. */
export async function heldToArchive(
  target: Target,
  base: BackupSummary<BackupMetadata>,
  reporter: Reporter,
  options: DecryptOptions,
): Promise<{ sha256: string } | { problem: string }> {
  const recorded = await recordedDigests(target, base.name);
  if (!recorded?.archive) return { problem: `${base.name} has no readable .sha256 sidecar in ${target.uri}` };
  // Its references point into that archive: one overwritten by other bytes (its sidecars left) would not restore.
  const resized = sizeMismatch(base.name, base.size, recorded.storedSize, target);
  if (resized) return { problem: resized };
  const sidecar = base.sidecars.find((n) => n === sidecarNames(base.name, false).metadata) ?? sidecarNames(base.name, true).metadata;
  const replaced = `it was edited or replaced, and references built from it would not restore; put the archive's own metadata.json there ('lsbackup verify ${base.name}' shows where they differ)`;
  if (recorded.metadataSidecar) {
    if (recorded.metadataSidecar.sha256 === base.metadataSidecarSha256) return { sha256: recorded.archive };
    return {
      problem: `the ${sidecar} sidecar is not the one stored with ${base.name} (its sha256 is ${base.metadataSidecarSha256}, ${base.name}.sha256 records ${recorded.metadataSidecar.sha256} for ${recorded.metadataSidecar.name}): ${replaced}`,
    };
  }
  reporter.emit({
    type: 'warning',
    message: `incremental: reading ${base.name} whole to check its metadata sidecar against it: its .sha256 sidecar records no digest of the sidecar (made by an older lsbackup; backups made now record it)`,
  });
  const archive = await readArchive(target, base.name, options).catch((e: Error) => e);
  if (archive instanceof Error) return { problem: `${base.name} could not be read to check its metadata sidecar against it: ${archive.message}` };
  if (archive.sha256 !== recorded.archive) {
    return { problem: `${base.name} has sha256 ${archive.sha256}, its .sha256 sidecar says ${recorded.archive}: the archive was replaced or damaged` };
  }
  if (!isDeepStrictEqual(archive.metadata, base.metadata)) return { problem: `the ${sidecar} sidecar is not ${base.name}'s own metadata.json: ${replaced}` };
  return { sha256: recorded.archive };
}

/**
 * Why an archive of `listedSize` bytes in the target is not the one its `.sha256` sidecar was
 * written for (`recordedSize`, its `# size` line: absent in backups made before it was recorded),
 * or undefined. Holds an archive to its sidecars from the listing alone: an overwrite of another size.
 */
export function sizeMismatch(name: string, listedSize: number, recordedSize: number | undefined, target: Target): string | undefined {
  if (recordedSize === undefined || recordedSize === listedSize) return undefined;
  return `${name} is ${listedSize} bytes in ${target.uri}, its .sha256 sidecar records ${recordedSize}: the archive was replaced or damaged`;
}

/** The archive's own metadata.json (its last entry) and the sha256 of its stored bytes, in one read. */
async function readArchive(target: Target, name: string, options: DecryptOptions): Promise<{ metadata?: BackupMetadata; sha256: string }> {
  const { result, sha256, digestRead } = await readStored(target, name, async (stored) => {
    const plain = isEncrypted(name) ? await decrypted(stored, name, options) : stored;
    let metadata: BackupMetadata | undefined;
    for await (const { entry, body } of openArchiveReader(plain, formatFromName(name))) {
      if (entry.path === METADATA_ENTRY) metadata = await readMetadataEntry(body, name);
      else body.resume();
    }
    return metadata;
  });
  if (digestRead) throw digestRead;
  return { ...(result ? { metadata: result } : {}), sha256 };
}
