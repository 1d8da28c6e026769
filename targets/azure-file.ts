/**
 * Azure file share target: `azfile://account/share/dir`. An archive is written to a temp
 * file beside its final name, range by range as it streams in (the file grows in steps,
 * since Azure files have a fixed size), and renamed to its final name only in commit(), with
 * its sidecars and never over an existing file (targets/support/publish-together.ts), so a
 * half-written backup is never visible. abort() deletes the temp file; the temp file of a run
 * killed before it could is removed by a later run or prune (cleanStale).
 */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import {
  AnonymousCredential,
  RestError,
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareDirectoryClient,
  type ShareFileClient,
} from '@azure/storage-file-share';
import { LsError } from '../engine/errors.js';
import { azureFileEndpoint, azureFileStoreKey, parseAzureFileUri } from './options/azure-file.js';
import { pipeline } from 'node:stream/promises';
import { candidateNames } from './support/collision.js';
import { NameTakenError, publishTogether, type PublishStore } from './support/publish-together.js';
import { formatBytes } from '../engine/report/format.js';
import { unlessNotFound } from './support/lookup.js';
import { fixedSizeWritable } from './support/fixed-size-writable.js';
import { isStaleLeftover, staleOrphanSidecars } from './support/stale-leftovers.js';
import type { PendingUpload, PutOptions, StaleScope, StoredObject, Target } from './types.js';
import { changedWhileRead, resumingDownload } from './support/resuming-download.js';
import { idleLimitedPipeline } from './support/azure-idle-client.js';
import { DEFAULT_IDLE_TIMEOUT_SECONDS, explainUploadFailure, guardDownload, isIdleTimeout, noAnswer } from './support/idle-timeout.js';

/** The URI scheme this plugin is registered under (targets/registry.ts). */
export const scheme = 'azfile';

export interface AzureFileTargetOptions {
  /** Storage account key (base64), normally from a secret. */
  accountKey?: string;
  /** SAS token (`sv=...&sig=...`), an alternative to the account key. */
  sasToken?: string;
  /** File service endpoint; default https://<account>.file.core.windows.net. */
  endpoint?: string;
  /** Bytes per Put Range call (Azure maximum 4 MiB). */
  rangeSize?: number;
  /**
   * Temp files of lsbackup backups not written to for this many hours are leftovers of dead
   * runs, removed by the next run and by prune. Younger ones may be a run on another machine.
   */
  staleUploadHours?: number;
  /** Seconds a request may go without the share sending or taking a byte before it fails (and is retried); 0: no limit. */
  idleTimeout?: number;
}

export { azureFileTargetOptionsSchema } from './options/azure-file.js';

/** Temp files carry this prefix; list() never shows them. */
export const TEMP_PREFIX = '.lsbackup-tmp-';
const TEMP_NAME = /^\.lsbackup-tmp-[0-9a-f]{12}-(.+)$/;

/** The upload a temp file was for (`.lsbackup-tmp-<12 hex>-<name>` -> name). */
const uploadOfTemp = (tempName: string) => TEMP_NAME.exec(tempName)?.[1];
const MAX_RANGE = 4 * 1024 * 1024;
/** Azure Files' largest file (Create File / Set File Properties: x-ms-content-length up to 4 TiB). */
export const MAX_FILE_SIZE = 4 * 1024 ** 4;
// The temp file grows in steps this large (then is cut to size) to save a resize per range.
const GROW_STEP = 64 * 1024 * 1024;
const MAX_COLLISIONS = 1000;

/** `maxFileSize` is Azure's; tests lower it to reach the limit with a small upload. */
export function createAzureFileTarget(uri: string, options: AzureFileTargetOptions = {}, maxFileSize = MAX_FILE_SIZE): Target {
  const { account, share, dir } = parseAzureFileUri(uri);
  if (!options.accountKey && !options.sasToken) {
    throw new LsError('ETARGET', { target: uri, message: 'needs an accountKey or a sasToken option' });
  }
  const endpoint = azureFileEndpoint(account, options.endpoint);
  const sas = options.sasToken?.replace(/^\?/, '');
  const idleSeconds = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_SECONDS;
  const service = options.accountKey
    ? new ShareServiceClient(endpoint, idleLimitedPipeline(new StorageSharedKeyCredential(account, options.accountKey), idleSeconds * 1000))
    : new ShareServiceClient(`${endpoint}?${sas}`, idleLimitedPipeline(new AnonymousCredential(), idleSeconds * 1000));
  const shareClient = service.getShareClient(share);
  const directory = dir ? shareClient.getDirectoryClient(dir) : shareClient.rootDirectoryClient;
  const rangeSize = Math.min(options.rangeSize ?? MAX_RANGE, MAX_RANGE);
  const fail = (action: string, cause: unknown) => targetError(uri, action, cause, idleSeconds);
  const noShare = (cause: unknown) => new LsError('ETARGET', { target: uri, message: `share '${share}' does not exist` }, { cause });
  // rename() takes a share-relative path; with a SAS the query must travel with it.
  const sharePath = (name: string) => (dir ? `${dir}/${name}` : name) + (sas ? `?${sas}` : '');

  const stat = (name: string): Promise<StoredObject | undefined> =>
    unlessNotFound(
      async () => {
        const p = await directory.getFileClient(name).getProperties();
        return { name, size: p.contentLength ?? 0, modified: p.lastModified ?? new Date(0) };
      },
      statusOf,
      (e) => fail(`cannot stat ${name}`, e),
    );

  /** A temp file beside the final name, and the writer that streams into it. */
  async function createTemp(name: string): Promise<{ file: ShareFileClient; writer: RangeWriter }> {
    const tempName = `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${name}`;
    const file = directory.getFileClient(tempName);
    try {
      await ensureDirectories(shareClient.rootDirectoryClient, dir);
      await file.create(0);
    } catch (e) {
      throw fail(`cannot create ${tempName}`, e);
    }
    const explain = (e: unknown) => explainUploadFailure(e, name, idleSeconds);
    return { file, writer: new RangeWriter(file, rangeSize, maxFileSize, `${uri}/${name}`, explain) };
  }

  /**
   * Temp files renamed into place without replace: Azure refuses a taken destination (409
   * ResourceAlreadyExists) atomically, which is what keeps two writers apart.
   */
  const publishStore: PublishStore<ShareFileClient> = {
    taken: async (name) => (await stat(name)) !== undefined,
    async stage(finalName, content) {
      const { file, writer } = await createTemp(finalName);
      try {
        await pipeline(content, writer.stream);
        await writer.finish();
        return file;
      } catch (e) {
        await writer.settled();
        await file.deleteIfExists().catch(() => undefined);
        throw e;
      }
    },
    async place(file, finalName) {
      try {
        await file.rename(sharePath(finalName), { replaceIfExists: false });
        return true;
      } catch (e) {
        if (statusOf(e) === 409) return false;
        throw e;
      }
    },
    unplace: async (_file, finalName) => void (await directory.getFileClient(finalName).delete()),
    discard: async (file) => void (await file.deleteIfExists()),
  };

  return {
    uri,
    storeKey: azureFileStoreKey(uri, options.endpoint),
    async check() {
      try {
        await shareClient.getProperties();
      } catch (e) {
        if (statusOf(e) === 404) throw noShare(e);
        throw fail(`cannot reach share '${share}'`, e);
      }
    },

    async put(name: string, putOptions: PutOptions = {}): Promise<PendingUpload> {
      const { file: temp, writer } = await createTemp(name);
      let aborted: Promise<void> | undefined;
      const abort = () =>
        (aborted ??= (async () => {
          if (!writer.stream.destroyed) writer.stream.destroy();
          await writer.settled();
          await temp.deleteIfExists().catch(() => undefined);
        })());
      writer.stream.on('error', () => void abort());
      return {
        stream: writer.stream,
        async commit(sidecars) {
          try {
            const size = await writer.finish();
            const finalName = await publishTogether(publishStore, temp, candidateNames(name, !!putOptions.avoidCollision, MAX_COLLISIONS), sidecars);
            return { name: finalName, size, modified: new Date() };
          } catch (e) {
            await abort();
            if (e instanceof NameTakenError) throw new LsError('ETARGET', { target: uri, message: e.message });
            throw fail(`upload of ${name} failed`, e);
          }
        },
        abort,
      };
    },

    async list() {
      const found: StoredObject[] = [];
      try {
        for await (const item of directory.listFilesAndDirectories({ includeTimestamps: true })) {
          if (item.kind !== 'file' || item.name.startsWith(TEMP_PREFIX)) continue;
          found.push({ name: item.name, size: item.properties.contentLength, modified: item.properties.lastModified ?? new Date(0) });
        }
      } catch (e) {
        // No directory yet: nothing was stored there (the first upload creates it). No share: a
        // mistyped name, which must not read as "no backups" (list, restore latest, prune).
        if (statusOf(e) === 404) {
          if ((e as RestError).code === 'ShareNotFound') throw noShare(e);
          return [];
        }
        throw fail('cannot list files', e);
      }
      return found;
    },

    stat,

    async get(name: string): Promise<Readable> {
      const file = directory.getFileClient(name);
      // Breaks are resumed below, as for S3; the SDK's own retries would only stack on them.
      const open = (offset: number, count?: number) => file.download(offset, count, { maxRetryRequests: 0 });
      let first: Awaited<ReturnType<typeof open>>;
      try {
        first = await open(0);
      } catch (e) {
        if (statusOf(e) === 404) throw new LsError('ETARGET', { target: uri, message: `no file named ${name}` }, { cause: e });
        throw fail(`cannot read ${name}`, e);
      }
      const watch = (body: Readable) => guardDownload(body, uri, name, idleSeconds);
      const { etag: version, contentLength: size } = first;
      if (version === undefined || size === undefined) return watch(first.readableStreamBody as Readable);
      return resumingDownload(first.readableStreamBody as Readable, {
        target: uri,
        name,
        size,
        watch,
        // Azure Files has no If-Match on reads: the answer's ETag says which version it is.
        reopen: async (offset) => {
          let rest: Awaited<ReturnType<typeof open>>;
          try {
            rest = await open(offset, size - offset);
          } catch (e) {
            throw statusOf(e) === 404 ? changedWhileRead(uri, name, offset, e) : e;
          }
          if (rest.etag === version) return rest.readableStreamBody as Readable;
          rest.readableStreamBody?.destroy();
          throw changedWhileRead(uri, name, offset);
        },
      });
    },

    async delete(name: string) {
      try {
        await directory.getFileClient(name).delete();
      } catch (e) {
        throw fail(`cannot delete ${name}`, e);
      }
    },

    /** Temp files of uploads that were never committed, and sidecars without their archive, by the rule of targets/support/stale-leftovers.ts. */
    async cleanStale(scope: StaleScope = {}) {
      const found: string[] = [];
      try {
        // One listing serves both kinds. "Now" is the service's time, not this machine's: its
        // answers carry it. A machine whose clock ran a day ahead (which a SAS token, unlike a
        // signed request, does not refuse) took another machine's live upload for a dead run's.
        const files: Array<{ name: string; modified?: Date }> = [];
        let now = Date.now();
        for await (const page of directory.listFilesAndDirectories({ includeTimestamps: true }).byPage()) {
          now = page.date?.getTime() ?? now;
          for (const file of page.segment.fileItems) files.push({ name: file.name, modified: file.properties.lastModified });
        }
        for (const { name, modified } of files) {
          const upload = uploadOfTemp(name);
          if (!upload || !isStaleLeftover(upload, modified, scope, options.staleUploadHours, now)) continue;
          if (!scope.dryRun) await directory.getFileClient(name).deleteIfExists();
          found.push(`${name} (temp file of an interrupted upload, last written ${modified!.toISOString()})`);
        }
        // Sidecars without their archive (another machine may be between placing a backup's sidecars and its archive).
        for (const { name, note } of staleOrphanSidecars(files, scope, options.staleUploadHours, now)) {
          if (!scope.dryRun) await directory.getFileClient(name).deleteIfExists();
          found.push(note);
        }
      } catch (e) {
        if (statusOf(e) === 404) return found; // no directory yet: nothing left behind
        throw fail('cannot remove leftovers of interrupted runs', e);
      }
      return found;
    },
  };
}

async function ensureDirectories(root: ShareDirectoryClient, dir: string): Promise<void> {
  let current = root;
  for (const part of dir.split('/').filter(Boolean)) {
    current = current.getDirectoryClient(part);
    await current.createIfNotExists();
  }
}

/**
 * Streams bytes into an Azure file with Put Range calls of at most rangeSize bytes, one
 * at a time (backpressure holds the producer while a range is in flight).
 */
class RangeWriter {
  readonly stream: Writable;
  private written = 0;
  private allocated = 0;
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: ShareFileClient,
    rangeSize: number,
    private readonly maxFileSize: number,
    private readonly label: string,
    /** A failed range call's error as the run reports it. */
    explain: (e: unknown) => unknown,
  ) {
    const upload = (bytes: Buffer) =>
      this.upload(bytes).catch((e: unknown) => {
        throw explain(e);
      });
    this.stream = fixedSizeWritable(rangeSize, { piece: (bytes) => this.track(upload(bytes)) });
  }

  /** Wait for the end of input, cut the file to its real size and return that size. */
  async finish(): Promise<number> {
    if (!this.stream.writableFinished) throw new Error('the upload stream was not ended before commit()');
    if (this.allocated !== this.written) await this.file.resize(this.written);
    return this.written;
  }

  /** Resolves once no range call is running (used before deleting the temp file). */
  settled(): Promise<unknown> {
    return this.inFlight.catch(() => undefined);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight = work.catch(() => undefined);
    return work;
  }

  private async upload(range: Buffer): Promise<void> {
    const end = this.written + range.length;
    if (end > this.maxFileSize) {
      throw new LsError('ETARGET', {
        target: this.label,
        message: `the archive is larger than an Azure file can be (${formatBytes(this.maxFileSize)}). Back up fewer components per run (--only/--skip), or use another target`,
      });
    }
    if (end > this.allocated) {
      // Never ask for more than the largest file: the last step is cut short.
      this.allocated = Math.min(this.maxFileSize, Math.max(end, this.allocated + GROW_STEP));
      await this.file.resize(this.allocated);
    }
    await this.file.uploadRange(range, this.written, range.length);
    this.written = end;
  }
}

function statusOf(e: unknown): number | undefined {
  return e instanceof RestError ? e.statusCode : undefined;
}

/** One clear ETARGET error; the key or SAS is never part of it. */
function targetError(uri: string, action: string, cause: unknown, idleSeconds: number): LsError {
  if (cause instanceof LsError) return cause;
  const code = cause instanceof RestError ? cause.code : undefined;
  if (isIdleTimeout(cause)) return new LsError('ETARGET', { target: uri, message: noAnswer(action, idleSeconds) }, { cause });
  const status = statusOf(cause);
  if (status === 403 || code === 'AuthenticationFailed') {
    return new LsError(
      'ETARGET',
      { target: uri, message: `${action}: the account key or SAS token was rejected (${code ?? status}); check accountKey/sasToken` },
      { cause },
    );
  }
  const detail = code ?? (cause as Error)?.message?.split('\n')[0] ?? String(cause);
  return new LsError('ETARGET', { target: uri, message: `${action}: ${detail}` }, { cause });
}
