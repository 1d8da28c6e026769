import type { Readable } from 'node:stream';
import type { Target } from '../../targets/types.js';
import { formatFromName, type ArchiveFormat, type BackupMetadata } from '../archive/index.js';
import { findBackup } from '../catalog/listing.js';
import { decrypted, fromTarget, isEncrypted, openObject, storedSha256 } from '../catalog/objects.js';
import { createMeter } from '../archive/meter.js';
import { pipeHoldingFailure } from '../archive/held-failure.js';
import { isLsError, LsError } from '../errors.js';
import { sidecarMismatches, type ArchiveRecords, type SidecarMismatch } from '../catalog/sidecar-match.js';

/** A stored backup, opened for reading (decrypted when it is an age file). */
export interface BackupSource {
  name: string;
  format: ArchiveFormat;
  /** A fresh stream of the archive's (decrypted) bytes each call; `count` is told the stored bytes as they are read. */
  open(count?: (bytes: number) => void): Promise<Readable>;
  /**
   * open(), and the sha256 of the stored bytes once the stream has ended: the ciphertext's of an
   * encrypted backup (what its `.sha256` sidecar and its child record of it). Absent for a plain
   * one, whose stream is the stored bytes: the reader's own digest of it is that (one hash, not two).
   */
  openMeasured(count?: (bytes: number) => void): Promise<{ stream: Readable; storedSha256?: () => string }>;
  /** The stored size (what `count` adds up to), when the target knows it. */
  storedSize(): Promise<number | undefined>;
  /**
   * The digest the `.sha256` sidecar records of the stored bytes (the ciphertext of an encrypted
   * backup), when there is one; a sidecar that records none refuses the restore of `restoring`.
   */
  sidecarSha256(restoring: string): Promise<string | undefined>;
  /** The `.metadata.json` sidecar, when the target has one that can be read (checked only against the archive's own copy later). */
  sidecarMetadata(): Promise<BackupMetadata | undefined>;
  /** Its metadata and signature sidecars that are not what the archive holds (verify's check). */
  sidecarMismatches(archive: ArchiveRecords): Promise<SidecarMismatch[]>;
  /** Whether the archive is in the target. */
  exists(): Promise<boolean>;
  /** Another backup in the same target (a base of an incremental), opened the same way. */
  sibling(name: string): BackupSource;
}

export function backupSource(target: Target, name: string, identities: string[] | undefined): BackupSource {
  return {
    name,
    format: formatFromName(name),
    open: (count) => openObject(target, name, { identities }, count),
    openMeasured: async (count) => {
      const stored = await fromTarget(target, name, count);
      if (!isEncrypted(name)) return { stream: stored };
      const meter = createMeter();
      meter.on('close', () => stored.destroy()); // a reader that stops early releases the object
      return { stream: await decrypted(pipeHoldingFailure(stored, meter), name, { identities }), storedSha256: () => meter.sha256() };
    },
    storedSize: async () => (await target.stat(name))?.size,
    sidecarSha256: (restoring) =>
      storedSha256(target, name).catch((e: unknown) => {
        if (!isLsError(e) || e.code !== 'EARCHIVE') throw e;
        // As verify says it: the sidecar names the archive, which may be a base of the one restored.
        throw new LsError('ERESTORE', { backup: restoring, message: name === restoring ? e.details.message : `${name}: ${e.details.message}` });
      }),
    sidecarMetadata: async () => (await findBackup(target, name, { identities }))?.metadata,
    sidecarMismatches: (archive) => sidecarMismatches(target, name, archive, { identities }),
    exists: async () => (await target.stat(name)) !== undefined,
    sibling: (other) => backupSource(target, other, identities),
  };
}
