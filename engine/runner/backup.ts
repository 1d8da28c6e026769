import { createHash, randomUUID } from 'node:crypto';
import { ownValue } from '../own.js';
import { buffer } from 'node:stream/consumers';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { createOwnedTempDir } from '../lock/index.js';
import { loadAge } from '../crypto/load-age.js';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Inventory } from '../inventory/types.js';
import type { LoadedRecipe } from '../recipes/types.js';
import type { ArchiveFormat } from '../archive/types.js';
import type { Sidecar, Target } from '../../targets/types.js';
import type { Redactor } from '../secrets/types.js';
import type { Reporter, SummaryRow } from '../report/events.js';
// Not archive/index.js: a backup need not load the archive reader (yauzl, the tar parser).
import { createArchiveWriter, metadataText } from '../archive/writer.js';
import { backupName, sidecarSuffixes, AGE_SUFFIX, STORED_SIZE_LINE } from '../archive/names.js';
import type { BackupMetadata } from '../archive/metadata.js';
import { createMeter } from '../archive/meter.js';
import { ExecutorPool, type ExecutorFactory } from '../executors/pool.js';
import { ExitCode, isLsError, LsError } from '../errors.js';
import { CleanupStack } from './cleanup.js';
import { Fanout } from './fanout.js';
import { hostsToContactFirst, planRun } from './plan.js';
import { executeBackup } from './execute-backup.js';
import { runStatus } from './component-run.js';
import { redactMetadataText } from './redact-metadata.js';
import type { ComponentOutcome } from './types.js';
import { lsbackupVersion } from '../version.js';
import type { CompressMode } from './transport.js';
import type { Signer } from '../signing/index.js';
import { IncrementalCollect, type IncrementalBase } from './incremental.js';

export interface BackupOptions {
  recipes: LoadedRecipe[];
  inventory: Inventory;
  /** Every target gets a copy of the same archive. Checked by the caller (engine/app/locks.ts, before their locks). */
  targets: Target[];
  cluster: string;
  /** The config job running this backup, recorded in metadata.json (retention is per job); none for `apply`. */
  job?: string;
  format: ArchiveFormat;
  concurrency: number;
  defaultStepTimeoutSec: number;
  only?: string[];
  skip?: string[];
  varOverrides?: Record<string, Record<string, unknown>>;
  secrets: Map<string, string>;
  /** Values from the build dir's manifest (a profile): between a recipe's defaults and the inventory. */
  profileVars?: Record<string, Record<string, unknown>>;
  /** Secrets that could not be resolved: the components that use one fail, the others run. */
  missingSecrets?: Map<string, string>;
  executorFactory: ExecutorFactory;
  reporter: Reporter;
  redactor: Redactor;
  signal: AbortSignal;
  /** Where streamed output is compressed (default local); a host's `lsbackup_compress` wins. */
  compress?: CompressMode;
  /** Encrypt at rest for these age recipients (opt-in); the metadata sidecar too unless plainMetadata. */
  encryption?: { recipients: string[]; plainMetadata?: boolean };
  /** Signs metadata.json (engine/signing): the signature goes into the archive and beside it. */
  signer?: Signer;
  /**
   * Set for --incremental/--full and jobs with `incremental`: collect steps record file
   * signatures, and with a base send only what changed (docs/incremental.md).
   */
  incremental?: { base?: IncrementalBase };
}

export interface StoredCopy {
  target: string;
  /** Final name in that target. */
  name?: string;
  error?: string;
}

export interface BackupResult {
  status: 'success' | 'partial' | 'failed';
  exitCode: number;
  /** Final name in the first target that stored it, when an archive was kept. */
  archive?: string;
  bytes?: number;
  sha256?: string;
  metadata?: BackupMetadata;
  /** One line per target: where the copy went, or why it did not. */
  copies: StoredCopy[];
}

/**
 * One backup run: plan, execute on every host, stream into one archive, store it atomically.
 * Whatever happens, post-steps ran (the executor guarantees it per host) and nothing is left
 * under a final name unless the archive is whole.
 */
export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const startedAt = new Date();
  const backupId = randomUUID();
  const cleanup = new CleanupStack();
  const executors = new ExecutorPool(options.executorFactory);
  cleanup.defer('close connections', () => executors.closeAll());
  try {
    // A login takes round trips and the host's CPU: start them now (up to the concurrency) while
    // templates are rendered and the targets and the archive get ready; host tasks reuse them.
    for (const host of hostsToContactFirst(options.recipes, options.inventory, options).slice(0, options.concurrency)) void executors.get(host);
    const plan = planRun(options.recipes, options.inventory, {
      operation: 'backup',
      backupId,
      cluster: options.cluster,
      startedAt,
      only: options.only,
      skip: options.skip,
      varOverrides: options.varOverrides,
      secrets: options.secrets,
      missingSecrets: options.missingSecrets,
      profileVars: options.profileVars,
      defaultStepTimeoutSec: options.defaultStepTimeoutSec,
      compress: options.compress,
    });
    const active = plan.components.filter((c) => !c.skipReason);
    options.reporter.emit({
      type: 'run.start',
      operation: 'backup',
      backupId,
      cluster: options.cluster,
      components: active.map((c) => c.name),
      hosts: new Set(active.flatMap((c) => c.hosts.map((h) => h.host.name))).size,
      target: options.targets.map((t) => t.uri).join(', '),
    });
    const spoolDir = options.targets.find((t) => t.spoolDir)?.spoolDir ?? (await privateTempDir(cleanup));
    const encryption = options.encryption && options.encryption.recipients.length > 0 ? options.encryption : undefined;
    const name = backupName(options.cluster, startedAt, options.format) + (encryption ? AGE_SUFFIX : '');
    const uploads = await Promise.all(options.targets.map(async (target) => ({ target, upload: await target.put(name, { avoidCollision: true }) })));
    const committed = new Set<Target>();
    cleanup.defer('remove partial uploads', async () => {
      await Promise.all(uploads.filter((u) => !committed.has(u.target)).map((u) => u.upload.abort()));
    });
    const fanout = new Fanout(uploads.map((u) => ({ label: u.target.uri, stream: u.upload.stream })));
    const sink = encryption ? await encryptingSink(encryption.recipients, fanout.stream) : undefined;
    // One plain copy into a local file: the compressor may write that file itself (see archive-output).
    const only = uploads.length === 1 && !encryption ? uploads[0]! : undefined;
    const file = only?.upload.fd !== undefined ? { fd: only.upload.fd, label: only.target.uri } : undefined;
    const archive = createArchiveWriter(options.format, sink?.input ?? fanout.stream, { spoolDir, file });
    let finished = false;
    cleanup.defer('stop the archive writer', async () => {
      if (!finished) await archive.abort();
    });

    const incremental = options.incremental ? new IncrementalCollect(options.incremental.base) : undefined;
    // An interrupted run's archive is thrown away: stop it now, or a file cut mid-stream is first
    // zero-filled to its declared size (hours for a big one) before the post-steps can run.
    const stopArchive = () => void archive.abort(new LsError('EINTERRUPTED', { signal: String(options.signal.reason ?? 'a signal') }));
    options.signal.addEventListener('abort', stopArchive, { once: true });
    const outcomes = await executeBackup(plan, {
      incremental,
      archive,
      executors,
      concurrency: options.concurrency,
      signal: options.signal,
      reporter: options.reporter,
    }).finally(() => options.signal.removeEventListener('abort', stopArchive));
    if (options.signal.aborted) throw new LsError('EINTERRUPTED', { signal: String(options.signal.reason ?? 'a signal') });

    const status = runStatus(outcomes);
    if (status === 'failed') {
      return finishRun(options, startedAt, { status, exitCode: ExitCode.failed, copies: [] }, outcomes);
    }
    let metadata: BackupMetadata | undefined;
    const result = await archive
      .finish((entries) => {
        const all = incremental ? [...entries, ...incremental.references] : entries;
        metadata = redactMetadataText(buildMetadata(options, backupId, startedAt, status, outcomes, all), options.redactor);
        return metadata;
      }, options.signer?.sign)
      .catch((e: unknown) => {
        // Every target failed (disk full) after the last entry was handed over: say which and why.
        if (fanout.healthy.length > 0 || fanout.failures.size === 0) throw e;
        throw new LsError(
          'ETARGET',
          { target: [...fanout.failures.keys()].join(', '), message: [...fanout.failures.values()].map((f) => f.message).join('; ') },
          { cause: e },
        );
      });
    finished = true;
    // Encrypted: the stored bytes are the ciphertext; the .sha256 sidecar and sizes describe those.
    const stored = sink ? await sink.done() : result;
    const sidecars = await backupSidecars(stored, metadata!, encryption, result.signature);
    const copies = await Promise.all(
      uploads.map(async ({ target, upload }): Promise<StoredCopy> => {
        const failed = fanout.failures.get(target.uri);
        if (failed) return { target: target.uri, error: ownMessage(failed, target.uri) };
        try {
          // The archive and its sidecars appear together or not at all (targets/support/publish-together.ts).
          const object = await upload.commit(sidecars);
          committed.add(target);
          options.reporter.emit({ type: 'archive.stored', target: target.uri, name: object.name, bytes: stored.bytes, sha256: stored.sha256 });
          return { target: target.uri, name: object.name };
        } catch (e) {
          return { target: target.uri, error: ownMessage(e, target.uri) };
        }
      }),
    );
    for (const c of copies) {
      if (c.error) options.reporter.emit({ type: 'warning', message: `target ${c.target}: the copy was not stored: ${c.error}` });
    }
    const kept = copies.filter((c) => c.name);
    if (kept.length === 0) {
      const message = copies.length === 1 ? copies[0]!.error! : copies.map((c) => `${c.target}: ${c.error}`).join('; ');
      throw new LsError('ETARGET', { target: options.targets.map((t) => t.uri).join(', '), message });
    }
    // A copy missing from some target makes the run partial: the operator asked for it there.
    const finalStatus = kept.length < copies.length && status === 'success' ? 'partial' : status;
    return finishRun(
      options,
      startedAt,
      {
        status: finalStatus,
        exitCode: finalStatus === 'success' ? ExitCode.ok : ExitCode.partial,
        archive: kept[0]!.name,
        bytes: stored.bytes,
        sha256: stored.sha256,
        metadata,
        copies,
      },
      outcomes,
    );
  } finally {
    const failures = await cleanup.runAll();
    for (const f of failures) options.reporter.emit({ type: 'warning', message: `cleanup '${f.label}' failed: ${f.error.message}` });
  }
}

function finishRun(options: BackupOptions, startedAt: Date, result: BackupResult, outcomes: ComponentOutcome[]): BackupResult {
  const summary: SummaryRow[] = outcomes.flatMap((o) =>
    o.hosts.length === 0
      ? [{ component: o.name, host: '-', status: o.status, bytes: 0, durationMs: o.durationMs, error: o.error }]
      : o.hosts.map((h) => ({ component: o.name, host: h.name, status: h.status, bytes: h.bytes, durationMs: h.durationMs, error: h.error ?? h.note })),
  );
  if (result.status === 'failed' && outcomes.every((o) => o.status === 'skipped')) {
    options.reporter.emit({ type: 'warning', message: 'no component was found on any host: nothing was backed up' });
  }
  options.reporter.emit({
    type: 'run.end',
    status: result.status,
    exitCode: result.exitCode,
    durationMs: Date.now() - startedAt.getTime(),
    archive: result.archive,
    bytes: result.bytes,
    summary,
  });
  return result;
}

function buildMetadata(
  options: BackupOptions,
  backupId: string,
  startedAt: Date,
  status: BackupResult['status'],
  outcomes: ComponentOutcome[],
  entries: BackupMetadata['entries'],
): BackupMetadata {
  const hostNames = new Set(outcomes.flatMap((o) => o.hosts.map((h) => h.name)));
  return {
    format: 'lsbackup-metadata/v1',
    lsbackupVersion,
    cluster: options.cluster,
    ...(options.job !== undefined ? { job: options.job } : {}),
    kind: options.incremental?.base ? 'incremental' : 'full',
    ...(options.incremental ? { fileSignatures: true as const } : {}),
    ...(options.incremental?.base ? { base: baseRecord(options.incremental.base) } : {}),
    backupId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    status,
    inventory: { source: options.inventory.source, digest: options.inventory.digest },
    archive: { format: options.format },
    hosts: [...options.inventory.hosts.values()]
      .filter((h) => hostNames.has(h.name))
      .map((h) => ({ name: h.name, address: h.connection.address, groups: h.groups })),
    components: outcomes.map((o) => {
      // Names only: a value may be a secret. Restore says which of them it does not set again.
      const varOverrides = Object.keys(ownValue(options.varOverrides, o.recipe.name) ?? {}).sort();
      return {
        name: o.name,
        recipe: o.recipe,
        componentVersion: o.componentVersion ?? null,
        status: o.status,
        durationMs: o.durationMs,
        ...(o.error ? { error: o.error } : {}),
        ...(varOverrides.length > 0 ? { varOverrides } : {}),
        hosts: o.hosts,
      };
    }),
    entries,
  };
}

function baseRecord(base: IncrementalBase): NonNullable<BackupMetadata['base']> {
  return {
    backupId: base.metadata.backupId,
    archive: base.archive,
    sha256: base.sha256,
    chain: base.chain,
    ...(base.chainSha256 ? { chainSha256: base.chainSha256 } : {}),
  };
}

/**
 * The sidecars every stored copy gets: its `.sha256` (for `sha256sum -c`), its metadata, and its
 * signature when signed. `.sha256` has a second line, the digest of the metadata sidecar as stored
 * (encrypted once, the same bytes in every target): the next incremental holds the sidecar it
 * builds its references from to the archive with it, without reading the archive
 * (engine/app/base-sidecar.ts).
 */
async function backupSidecars(
  { sha256, bytes }: { sha256: string; bytes: number },
  metadata: BackupMetadata,
  encryption: BackupOptions['encryption'],
  signature: Buffer | undefined,
): Promise<Sidecar[]> {
  const encryptMetadata = encryption !== undefined && !encryption.plainMetadata;
  const suffixes = sidecarSuffixes(encryptMetadata);
  const json = Buffer.from(metadataText(metadata));
  // The sidecar reveals host names and addresses: encrypted like the archive unless asked otherwise.
  const stored = encryptMetadata ? await buffer(Readable.from([json]).pipe((await loadAge()).encryptStream(encryption.recipients))) : json;
  const storedSha256 = createHash('sha256').update(stored).digest('hex');
  return [
    {
      suffix: suffixes.sha256,
      // `sha256sum -c` checks both digests and skips the '#' line: the stored size, which the next
      // incremental compares with the target's listing, as it reads no archive (catalog/objects.ts).
      content: (archiveName) =>
        Readable.from([`${sha256}  ${archiveName}\n${storedSha256}  ${archiveName}${suffixes.metadata}\n${STORED_SIZE_LINE} ${bytes} ${archiveName}\n`]),
    },
    { suffix: suffixes.metadata, content: () => Readable.from([stored]) },
    ...(signature ? [{ suffix: suffixes.signature, content: () => Readable.from([signature]) }] : []),
  ];
}

/**
 * archive writer -> age encryption -> meter of the stored bytes -> the targets. done() resolves
 * once every encrypted byte has reached the fanout, with the digest of what was stored.
 */
async function encryptingSink(recipients: string[], fanout: Writable): Promise<{ input: Writable; done: () => Promise<{ bytes: number; sha256: string }> }> {
  const input = (await loadAge()).encryptStream(recipients);
  const meter = createMeter();
  const flowing = pipeline(input, meter, fanout);
  flowing.catch(() => {}); // a failure is also seen by the archive writer; done() rethrows it
  return {
    input,
    done: async () => {
      await flowing;
      return { bytes: meter.bytes(), sha256: meter.sha256() };
    },
  };
}

/** Spool files for targets without a local directory (S3, Azure) go to a private temp dir. */
async function privateTempDir(cleanup: CleanupStack): Promise<string> {
  const dir = await createOwnedTempDir(os.tmpdir(), 'lsbackup-spool-');
  cleanup.defer('remove the spool directory', () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy's error without the `Target <uri>: ` of the plugin's own error: the warning and the run's error name the target once. */
function ownMessage(e: unknown, uri: string): string {
  return isLsError(e) && e.code === 'ETARGET' && e.details.target === uri ? String(e.details.message) : (e as Error).message;
}
