import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openArchiveReader, METADATA_ENTRY, SIGNATURE_ENTRY, type ArchiveFormat, type BackupMetadata } from '../archive/index.js';
import type { ReadEntrySpec } from '../archive/reader.js';
import { RECIPES_PREFIX } from '../runner/entry-paths.js';
import { LsError } from '../errors.js';
import { MAX_METADATA_BYTES, MAX_RECIPE_BYTES, readLimited } from '../archive/limits.js';
import { compareWithMetadata, headerFields, isWarning, NO_METADATA, type ReadDigest } from '../archive/verify.js';
import { parseMetadata } from '../archive/read-metadata.js';
import type { DataRegion } from '../archive/tar/sparse.js';
import { createMeter } from '../archive/meter.js';
import { pipeHoldingFailure } from '../archive/held-failure.js';
import { recordBlocks, type BlockDigests } from '../archive/block-digests.js';
import { SparseFileWriter } from './sparse-file.js';
import { entryRules } from '../archive/entry-rules.js';
import { isWrongIdentity } from '../crypto/crypto-error.js';
import { brokenReadOf, describeBrokenRead, readPosition } from '../archive/broken-read.js';
import { sidecarDigestMismatch } from '../catalog/stored-digest.js';

/** One archive entry as staged for restore: its header, and where its body now lies. */
export interface StagedEntry {
  entry: ReadEntrySpec;
  /** Absolute path of the body in the staging directory (regular files of selected components). */
  file?: string;
  /** Where `file` holds data, when it has holes (runs of zero blocks): it is restored sparse. */
  dataRegions?: DataRegion[];
  /** Recorded as incomplete (its host died mid-stream): never handed to a restore step. */
  incomplete?: boolean;
  /** The base archive that holds the body (an incremental's reference); absent: the restored backup itself. */
  holder?: string;
}

export interface StagedBackup {
  metadata: BackupMetadata;
  /** metadata.json's bytes as stored, and their SSH signature when the backup is signed (engine/signing). */
  metadataBytes: Buffer;
  signature?: Buffer;
  /** Entries in archive order, by path. */
  entries: Map<string, StagedEntry>;
  /** Recipe files the archive carries, by entry path. */
  recipes: Map<string, Buffer>;
  /** sha256 of the stored bytes (what the `.sha256` sidecar records). */
  archiveSha256: string;
  /** Every entry path in the order the archive holds them (metadata.json too): a second pass must meet the same. */
  order: string[];
  /** The digest of each block of the archive's bytes (when asked for): a second pass hands on only blocks that match. */
  blocks?: BlockDigests;
  /** The bases an incremental's references were verified in (restore/chain.ts), for a second pass over them. */
  bases?: VerifiedArchive[];
}

/** An archive as the verify pass read it: what a second pass over it must find again. */
export interface VerifiedArchive {
  name: string;
  order: string[];
  blocks: BlockDigests;
}

export interface StageOptions {
  backup: string;
  format: ArchiveFormat;
  stagingDir: string;
  /** Components whose bodies are written to the staging dir (others are verified and dropped). */
  components: (name: string) => boolean;
  /** Entries whose bodies are staged besides those (the files a newer incremental refers to). */
  bodies?: (path: string) => boolean;
  /** The `.sha256` sidecar's digest, when there is one: the stored bytes must match it. */
  expectedSha256?: string;
  /** The digest of the stored bytes once the stream has ended, when they are not the stream's own (an encrypted backup's ciphertext). */
  storedSha256?: () => string;
  /**
   * Record the sha256 of each 1 MiB block for a second pass over the archive (stream mode). Off
   * otherwise: it is a second sha256 of every byte (~0.4 s of CPU per GB here).
   */
  recordBlocks?: boolean;
  /** Told of each entry as it is read (progress). */
  onEntry?: () => void;
}

/**
 * One pass over the archive before any host is touched: every entry is checked against
 * metadata.json (sha256, size, kind, mode, link target), unsafe entries are refused (absolute
 * or '..' paths, device files, duplicates, links that leave their host's tree or entries reached
 * through a link, hardlinks to anything but a file stored before them or an incremental's
 * referenced file), and the bodies restore needs are written to a private staging directory.
 * Restore steps run in their own order, not the archive's, so they read from the staging
 * directory afterwards.
 */
export async function stageBackup(stream: Readable, options: StageOptions): Promise<StagedBackup> {
  const refuse = (message: string): never => {
    throw new LsError('ERESTORE', { backup: options.backup, message });
  };
  const { hashed, digest, blocks } = hashedStream(stream, options.recordBlocks ?? false);
  // Made before the first entry: an await between piping a body and reading it left a read failure
  // in that wait with no listener, and restore died of it (a download cut at an entry's start).
  // Here, `hashed` holds a failure until it is read (held-failure.ts), so this wait loses none.
  const stagingData = path.join(options.stagingDir, 'data');
  await mkdir(stagingData, { recursive: true, mode: 0o700 });
  const order: string[] = [];

  const entries = new Map<string, StagedEntry>();
  const recipes = new Map<string, Buffer>();
  const digests = new Map<string, ReadDigest>();
  let metadata: BackupMetadata | undefined;
  let metadataBytes: Buffer | undefined;
  let signature: Buffer | undefined;
  const rules = entryRules();

  const reader = openArchiveReader(hashed, options.format, { spoolDir: options.stagingDir, onUnsupportedEntry: rules.unsupported, onEntry: options.onEntry });
  // The entry being read when the archive turns out damaged, so the error names it.
  let reading: string | undefined;
  try {
    for await (const { entry, body } of reader) {
      reading = entry.path;
      order.push(entry.path);
      const broken = rules.check(entry);
      if (broken) refuse(broken);
      if (entry.path === METADATA_ENTRY) {
        metadataBytes = await readLimited(body, MAX_METADATA_BYTES, METADATA_ENTRY);
        metadata = parseMetadata(metadataBytes, options.backup);
        reading = undefined;
        continue;
      }
      if (entry.path === SIGNATURE_ENTRY) {
        // Not listed in metadata.json (it signs it); checked by restore/run.ts against the trusted keys.
        signature = await readLimited(body, 64 * 1024, 'the signature entry');
        reading = undefined;
        continue;
      }
      const counted = body.pipe(createMeter());
      body.on('error', (e) => counted.destroy(e));
      const component = entry.path.split('/')[0]!;
      let file: string | undefined;
      let dataRegions: DataRegion[] | undefined;
      if (entry.path.startsWith(RECIPES_PREFIX + '/')) {
        recipes.set(entry.path, await readLimited(counted, MAX_RECIPE_BYTES, `the recipe ${entry.path}`));
      } else if (entry.type === 'file' && (options.components(component) || options.bodies?.(entry.path))) {
        // Numbered, not named after the entry: an entry path can be longer than a host path may
        // be here (PATH_MAX), and a name's exact bytes are the archive's business, not the disk's.
        file = path.join(stagingData, String(entries.size));
        const writer = new SparseFileWriter(file, 0o600, entry.size);
        await pipeline(counted, writer);
        dataRegions = writer.dataRegions();
      } else {
        await drain(counted);
      }
      digests.set(entry.path, { ...headerFields(entry), size: counted.bytes(), sha256: entry.type === 'file' ? counted.sha256() : undefined });
      entries.set(entry.path, { entry, file, dataRegions });
      reading = undefined;
    }
  } catch (e) {
    // Our own refusals name their entry already; EMETADATA names the backup and the problems.
    if (e instanceof LsError && (e.code === 'ERESTORE' || e.code === 'EMETADATA')) throw e;
    // The staging disk filled up: not the archive's fault.
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
      const message = `${options.stagingDir} ran out of space while staging '${reading}': pass --staging-dir on a disk with room, or --stream to stage nothing`;
      throw new LsError('ERESTORE', { backup: options.backup, message, noSpace: true });
    }
    // The operator's key, not the archive: said as such.
    if (isWrongIdentity(e)) refuse(`it cannot be decrypted: ${(e as Error).message}`);
    // The read's own failure (a download cut), not the archive's: said as such, and that it may pass.
    const broken = brokenReadOf(e);
    if (broken) refuse(`${describeBrokenRead(readPosition(reading, order.at(-1)), broken)}; run the restore again`);
    const where = reading ? `while reading entry '${reading}'` : order.length > 0 ? `after entry '${order.at(-1)}'` : 'at its start';
    refuse(`the archive is damaged or truncated ${where}: ${(e as Error).message}`);
  }
  if (!metadata) refuse(NO_METADATA);
  const danglingLink = rules.finish(metadata!.entries);
  if (danglingLink) refuse(danglingLink);
  // An entry stored incomplete is no reason to refuse the backup: its host is skipped (below).
  const mismatch = compareWithMetadata(metadata!.entries, digests).find((p) => !isWarning(p) && p.kind !== 'recorded-error');
  if (mismatch) refuse(mismatch.message);
  // An entry recorded as incomplete (its host died mid-stream) belongs to a failed host, which
  // restore skips, or to a collect step that went on (onError: continue), whose files step fails;
  // its bytes are never handed to a restore step.
  for (const record of metadata!.entries) {
    const staged = record.error ? entries.get(record.path) : undefined;
    if (staged) staged.incomplete = true;
    if (staged?.file) {
      await rm(staged.file, { force: true });
      staged.file = undefined;
      staged.dataRegions = undefined;
    }
  }
  // The stored bytes' digest: the ciphertext's of an encrypted backup, else the stream's own.
  const archiveSha256 = options.storedSha256?.() ?? digest();
  if (options.expectedSha256 && options.expectedSha256 !== archiveSha256) {
    refuse(sidecarDigestMismatch(archiveSha256, options.expectedSha256));
  }
  return { metadata: metadata!, metadataBytes: metadataBytes!, signature, entries, recipes, archiveSha256, order, blocks: blocks() };
}

/** The block digests a second pass checks against: recorded only when the verify pass was told it streams. */
export function recordedBlocks(staged: Pick<StagedBackup, 'blocks'>, name: string): BlockDigests {
  if (!staged.blocks) throw new Error(`${name} was verified without its block digests (recordBlocks), so it cannot be read a second time`);
  return staged.blocks;
}

/** `stream` passed through, with the sha256 of every byte that went by (the whole stored object) and of each block of them. */
function hashedStream(stream: Readable, withBlocks: boolean): { hashed: Readable; digest: () => string; blocks: () => BlockDigests | undefined } {
  const meter = createMeter();
  const recorder = withBlocks ? recordBlocks() : undefined;
  const metered = pipeHoldingFailure(stream, meter);
  const hashed = recorder ? pipeHoldingFailure(metered, recorder) : metered;
  return { hashed, digest: () => meter.sha256(), blocks: () => recorder?.digests() };
}

async function drain(body: Readable): Promise<void> {
  await pipeline(body, new PassThrough().resume());
}
