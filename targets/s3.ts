/**
 * S3 target: `s3://bucket/prefix`. Archives are written as multipart uploads whose parts
 * stream out as they fill (bounded memory: part size x (queueSize + 1); parts grow as the
 * upload goes on, targets/support/part-sizes.ts), and the upload is
 * completed only in commit(), so nothing appears under the final name before then. Any
 * failure or abort() calls AbortMultipartUpload so no parts are left behind. The name is
 * claimed before the upload starts, and published with its sidecars (archive last) without
 * replacing anything: see targets/support/name-claim.ts and publish-together.ts.
 *
 * We drive the multipart calls ourselves rather than through lib-storage's `Upload`,
 * because `Upload` completes the object as soon as the input ends, i.e. before commit().
 */
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { LsError } from '../engine/errors.js';
import { parseS3Uri, s3StoreKey } from './options/s3.js';
import { pipeline } from 'node:stream/promises';
import { candidateNames } from './support/collision.js';
import { CLAIMS_DIR, claimExpired, claimName, type ClaimStore } from './support/name-claim.js';
import { NameTakenError, publishTogether, type PublishStore } from './support/publish-together.js';
import { formatBytes } from '../engine/report/format.js';
import { unlessNotFound } from './support/lookup.js';
import { fixedSizeWritable } from './support/fixed-size-writable.js';
import { partSchedule, S3_PART_LIMITS, type PartLimits } from './support/part-sizes.js';
import type { PendingUpload, PutOptions, StaleScope, StoredObject, Target } from './types.js';
import { isStaleLeftover, ofScopedBackup, staleOrphanSidecars } from './support/stale-leftovers.js';
import { changedWhileRead, resumingDownload } from './support/resuming-download.js';
import { DEFAULT_IDLE_TIMEOUT_SECONDS, explainUploadFailure, guardDownload, isIdleTimeout, noAnswer } from './support/idle-timeout.js';

/** The URI scheme this plugin is registered under (targets/registry.ts). */
export const scheme = 's3';

export interface S3TargetOptions {
  /** S3-compatible endpoint (MinIO, Ceph, Swift s3api); omit for AWS. */
  endpoint?: string;
  region?: string;
  /** Path-style URLs (endpoint/bucket/key); needed by most S3-compatible servers. */
  forcePathStyle?: boolean;
  /** Explicit keys (the config resolves them from secrets); omitted -> the AWS default provider chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  serverSideEncryption?: ServerSideEncryption;
  sseKmsKeyId?: string;
  storageClass?: StorageClass;
  /** Bytes of the first multipart parts (S3 minimum 5 MiB); later parts grow (targets/support/part-sizes.ts). */
  partSize?: number;
  /** Parts uploading at once. */
  queueSize?: number;
  /** Seconds a request may go without the store sending or taking a byte before it fails (and is retried); 0: no limit. */
  idleTimeout?: number;
  /**
   * Incomplete multipart uploads of lsbackup backups not written to (no part, and not started)
   * for this many hours are leftovers of dead runs and are aborted by the next run and by prune.
   * Others may be a run on another machine.
   */
  staleUploadHours?: number;
}

export { s3TargetOptionsSchema } from './options/s3.js';

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 3;
const MAX_COLLISIONS = 1000;
// DeleteObjects takes at most 1000 keys a request.
const DELETE_BATCH = 1000;

/** `limits` is S3's; tests lower it to reach the part limit with a small upload. */
export function createS3Target(uri: string, options: S3TargetOptions = {}, limits: PartLimits = S3_PART_LIMITS): Target {
  const { bucket, prefix } = parseS3Uri(uri);
  const idleSeconds = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_SECONDS;
  const idleMs = idleSeconds * 1000;
  const clientConfig = {
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    forcePathStyle: options.forcePathStyle,
    credentials:
      options.accessKeyId && options.secretAccessKey
        ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, sessionToken: options.sessionToken }
        : undefined,
    // A rejected signature is not worth retrying; transient errors still are.
    maxAttempts: 3,
  };
  // A store that stops answering must not hold the run and its locks forever: every request
  // fails (and is retried) after idleTimeout without a byte either way...
  // The SDK's client constructor warns on Node < 22 that its future releases will need Node 22:
  // nine lines on every S3 run's stderr (also under -q, in every cron mail) about a version of it
  // lsbackup does not use, asking the operator to upgrade a Node that lsbackup supports.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({ ...clientConfig, requestHandler: { connectionTimeout: idleMs, socketTimeout: idleMs } });
  // ...except an archive's download, whose socket is idle whenever lsbackup pauses reading it on
  // purpose: its answer must start within idleTimeout, and guardStalls watches its body.
  const downloads = new S3Client({
    ...clientConfig,
    requestHandler: { connectionTimeout: idleMs, requestTimeout: idleMs, throwOnRequestTimeout: true },
  });
  const keyOf = (name: string) => prefix + name;
  const fail = (action: string, cause: unknown) => targetError(uri, action, cause, idleSeconds);
  // The store's time, not this machine's: leftovers are judged by the server's timestamps, and
  // the SDK keeps working with a clock that is off (it signs by the server's Date), so a machine
  // running a day ahead took another machine's live upload and name claim for a dead run's.
  const storeNow = () => Date.now() + (client.config.systemClockOffset ?? 0);

  // storageClass is the archive's. Sidecars stay in the bucket's default class: `list`, `prune`
  // and every restore read them (an archive class such as GLACIER refuses reads until thawed),
  // and classes such as STANDARD_IA bill a few-hundred-byte object as 128 KiB.
  const newUpload = (name: string, storageClass?: StorageClass) =>
    new MultipartUpload(
      client,
      {
        Bucket: bucket,
        Key: keyOf(name),
        ServerSideEncryption: options.serverSideEncryption,
        SSEKMSKeyId: options.sseKmsKeyId,
        StorageClass: storageClass,
      },
      { first: options.partSize ?? DEFAULT_PART_SIZE, limits },
      options.queueSize ?? DEFAULT_QUEUE_SIZE,
      idleSeconds,
    );

  // Conditional writes (If-None-Match: *) where the server has them (AWS since 2024): a server
  // that refuses them (Swift's s3api: 501) is remembered and written to without; the claims
  // alone then keep writers apart.
  let conditionalWrites = true;
  async function noClobber<T>(write: (ifNoneMatch: '*' | undefined) => Promise<T>): Promise<T> {
    if (!conditionalWrites) return write(undefined);
    try {
      return await write('*');
    } catch (e) {
      if (statusOf(e) !== 501 && (e as Error)?.name !== 'NotImplemented') throw e;
      conditionalWrites = false;
      return write(undefined);
    }
  }

  const claimKey = (name: string, id = '') => `${prefix}${CLAIMS_DIR}${name}/${id}`;
  const claimStore: ClaimStore = {
    async objectsStartingWith(name) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyOf(name), MaxKeys: 1 }));
      return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
    },
    async claims(name) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: claimKey(name) }));
      return (page.Contents ?? []).map((o) => o.Key!.slice(claimKey(name).length));
    },
    writeClaim: (name, id, body) =>
      noClobber((IfNoneMatch) => client.send(new PutObjectCommand({ Bucket: bucket, Key: claimKey(name, id), Body: body, IfNoneMatch }))).then(() => undefined),
    deleteClaim: (name, id) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: claimKey(name, id) })).then(() => undefined),
  };

  /** Sidecars as small multipart uploads to their final keys (free: the name is claimed), completed archive last. */
  const publishStore: PublishStore<MultipartUpload> = {
    taken: async () => false, // the claim checked the name and every name starting with it
    async stage(finalName, content) {
      const sidecar = newUpload(finalName);
      await sidecar.start();
      try {
        await pipeline(content, sidecar.stream);
      } catch (e) {
        await sidecar.abort();
        throw e;
      }
      return sidecar;
    },
    async place(upload) {
      try {
        await noClobber((IfNoneMatch) => upload.complete(IfNoneMatch));
        return true;
      } catch (e) {
        // 412: the key exists; 409: a concurrent conditional write to it won (AWS).
        if (statusOf(e) === 412 || statusOf(e) === 409) return false;
        throw e;
      }
    },
    unplace: async (_upload, finalName) => void (await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(finalName) }))),
    discard: (upload) => upload.abort(),
  };

  const stat = (name: string): Promise<StoredObject | undefined> =>
    unlessNotFound(
      async () => {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(name) }));
        return { name, size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0) };
      },
      statusOf,
      (e) => fail(`cannot stat ${name}`, e),
    );

  // HEAD answers carry no body, so a refusal comes without its code ("Unknown"): a one-key
  // listing is refused the same way and says why (InvalidAccessKeyId, SignatureDoesNotMatch...).
  async function withErrorCode(headError: unknown): Promise<unknown> {
    if (!(headError instanceof S3ServiceException) || headError.name !== 'Unknown') return headError;
    try {
      await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }));
      return headError;
    } catch (e) {
      return e;
    }
  }

  /** When the upload last got a part (ListParts), or when it started if it has none; undefined once it is gone. */
  async function lastPartWritten(Key: string, UploadId: string, initiated: Date | undefined): Promise<Date | undefined> {
    let newest = initiated;
    let PartNumberMarker: string | undefined;
    do {
      const page = await client.send(new ListPartsCommand({ Bucket: bucket, Key, UploadId, PartNumberMarker })).catch((e: unknown) => {
        if (statusOf(e) === 404) return undefined; // completed or aborted meanwhile
        throw e;
      });
      if (!page) return undefined;
      for (const part of page.Parts ?? []) if (part.LastModified && (!newest || part.LastModified > newest)) newest = part.LastModified;
      PartNumberMarker = nextMarker(page.IsTruncated, page.NextPartNumberMarker, 'parts');
    } while (PartNumberMarker);
    return newest;
  }

  async function list(): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken }));
        for (const o of page.Contents ?? []) {
          if (!o.Key || o.Key === prefix) continue;
          found.push({ name: o.Key.slice(prefix.length), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
        }
        ContinuationToken = nextMarker(page.IsTruncated, page.NextContinuationToken, 'objects');
      } while (ContinuationToken);
    } catch (e) {
      throw fail('cannot list objects', e);
    }
    return found;
  }

  return {
    uri,
    storeKey: s3StoreKey(uri, options.endpoint),
    async check() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (e) {
        if (statusOf(e) === 404) throw new LsError('ETARGET', { target: uri, message: `bucket '${bucket}' does not exist` }, { cause: e });
        throw fail(`cannot reach bucket '${bucket}'`, await withErrorCode(e));
      }
    },

    async put(name: string, putOptions: PutOptions = {}): Promise<PendingUpload> {
      // A multipart upload's key is fixed when it starts: claim the name first, so that two
      // writers (two machines) never upload to the same key (targets/support/name-claim.ts).
      const claim = await claimName(claimStore, candidateNames(name, putOptions.avoidCollision ?? false, MAX_COLLISIONS)).catch((e: unknown) => {
        throw e instanceof NameTakenError ? new LsError('ETARGET', { target: uri, message: e.message }) : fail(`cannot claim the name ${name}`, e);
      });
      const finalName = claim.name;
      const upload = newUpload(finalName, options.storageClass);
      try {
        await upload.start();
      } catch (e) {
        await claim.release().catch(() => undefined);
        throw fail(`cannot start upload of ${finalName}`, e);
      }
      return {
        stream: upload.stream,
        async commit(sidecars) {
          try {
            await publishTogether(publishStore, upload, [finalName], sidecars);
            return { name: finalName, size: upload.size, modified: new Date() };
          } catch (e) {
            // The upload's failure is the news; a failed abort is reported by whoever aborts it later.
            await upload.abort().catch(() => undefined);
            throw e instanceof NameTakenError
              ? new LsError('ETARGET', { target: uri, message: `${e.message} (written by a writer that does not claim names)` })
              : fail(`upload of ${finalName} failed`, e);
          } finally {
            await claim.release().catch(() => undefined);
          }
        },
        async abort() {
          try {
            await upload.abort().catch((e: unknown) => {
              throw fail(
                `could not abort the multipart upload of ${finalName} (its parts stay billed until removed; the next run or 'lsbackup prune --leftovers' removes it)`,
                e,
              );
            });
          } finally {
            await claim.release().catch(() => undefined);
          }
        },
      };
    },

    list,

    stat,

    async get(name: string) {
      const open = (offset: number, IfMatch?: string) =>
        downloads.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(name), Range: offset > 0 ? `bytes=${offset}-` : undefined, IfMatch }));
      let object: Awaited<ReturnType<typeof open>>;
      try {
        object = await open(0);
      } catch (e) {
        if (statusOf(e) === 404) throw new LsError('ETARGET', { target: uri, message: `no object named ${name}` }, { cause: e });
        throw fail(`cannot read ${name}`, e);
      }
      const watch = (body: Readable) => guardDownload(body, uri, name, idleSeconds);
      const { ETag: version, ContentLength: size } = object;
      if (version === undefined || size === undefined) return watch(object.Body as Readable);
      // A broken answer is picked up at the next byte of the same version (If-Match).
      return resumingDownload(object.Body as Readable, {
        target: uri,
        name,
        size,
        watch,
        reopen: async (offset) => {
          try {
            return (await open(offset, version)).Body as Readable;
          } catch (e) {
            throw statusOf(e) === 404 || statusOf(e) === 412 ? changedWhileRead(uri, name, offset, e) : e;
          }
        },
      });
    },

    async delete(name: string) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(name) }));
      } catch (e) {
        throw fail(`cannot delete ${name}`, e);
      }
    },

    async deleteMany(names: string[]) {
      for (let i = 0; i < names.length; i += DELETE_BATCH) {
        const batch = names.slice(i, i + DELETE_BATCH);
        let refused: { Key?: string; Code?: string; Message?: string }[];
        try {
          const r = await client.send(
            withContentMd5(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((n) => ({ Key: keyOf(n) })), Quiet: true } })),
          );
          refused = r.Errors ?? [];
        } catch (e) {
          throw fail(`cannot delete ${batch.length} object(s)`, e);
        }
        if (refused.length > 0) {
          const first = refused[0]!;
          throw new LsError('ETARGET', {
            target: uri,
            message: `cannot delete ${refused.length} object(s), e.g. ${first.Key?.slice(prefix.length)}: ${first.Code}: ${first.Message}`,
          });
        }
      }
    },

    async cleanStale(scope: StaleScope = {}) {
      const found: string[] = [];
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      try {
        do {
          const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, UploadIdMarker }));
          for (const u of page.Uploads ?? []) {
            const name = u.Key?.slice(prefix.length) ?? '';
            if (!isStaleLeftover(name, u.Initiated, scope, options.staleUploadHours, storeNow())) continue;
            // Started long ago is not enough: a long upload (a live run on another machine) still writes parts.
            if (!isStaleLeftover(name, await lastPartWritten(u.Key!, u.UploadId!, u.Initiated), scope, options.staleUploadHours, storeNow())) continue;
            if (!scope.dryRun) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
            found.push(`${name} (incomplete multipart upload started ${u.Initiated!.toISOString()})`);
          }
          KeyMarker = nextMarker(page.IsTruncated, page.NextKeyMarker, 'multipart uploads');
          UploadIdMarker = KeyMarker === undefined ? undefined : page.NextUploadIdMarker;
        } while (KeyMarker);
        // Name claims a killed run could not release (targets/support/name-claim.ts): past their expiry.
        let ContinuationToken: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}${CLAIMS_DIR}`, ContinuationToken }));
          for (const o of page.Contents ?? []) {
            const [name = '', id = ''] = o.Key!.slice(prefix.length + CLAIMS_DIR.length).split('/');
            if (!claimExpired(id, storeNow()) || !ofScopedBackup(name, scope)) continue;
            if (!scope.dryRun) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
            found.push(`${name} (expired name claim ${id})`);
          }
          ContinuationToken = nextMarker(page.IsTruncated, page.NextContinuationToken, 'name claims');
        } while (ContinuationToken);
        // Sidecars without their archive, untouched for the grace period (another machine may be
        // between placing a backup's sidecars and its archive).
        for (const { name, note } of staleOrphanSidecars(await list(), scope, options.staleUploadHours, storeNow())) {
          if (!scope.dryRun) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(name) }));
          found.push(note);
        }
      } catch (e) {
        throw fail('cannot remove leftovers of interrupted runs', e);
      }
      return found;
    },
  };
}

/**
 * DeleteObjects must carry a checksum. The SDK sends a CRC32 one, which AWS takes; many
 * S3-compatible servers (Swift's s3api, older Ceph and MinIO) demand Content-MD5.
 */
function withContentMd5(command: DeleteObjectsCommand): DeleteObjectsCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (request.headers && typeof request.body === 'string') request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
      return next(args);
    },
    { step: 'build', name: 'lsbackupContentMd5' },
  );
  return command;
}

interface UploadParams {
  Bucket: string;
  Key: string;
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  StorageClass?: StorageClass;
}

/**
 * One multipart upload fed by a Writable. Parts are cut at partSize and sent while the
 * next fills; the writer waits (backpressure) when queueSize parts are in flight.
 */
class MultipartUpload {
  readonly stream: Writable;
  private uploadId?: string;
  private readonly done: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private totalBytes = 0;
  private nextPartNumber = 1;
  private failure: Error | undefined;
  private completed = false;
  private finished = false;
  private aborting?: Promise<void>;

  constructor(
    private readonly client: S3Client,
    private readonly params: UploadParams,
    private readonly parts: { first: number; limits: PartLimits },
    private readonly queueSize: number,
    private readonly idleSeconds: number,
  ) {
    this.stream = fixedSizeWritable(partSchedule(parts.first, parts.limits), {
      piece: (bytes) => this.send(bytes),
      end: async () => {
        await Promise.all(this.inFlight);
        this.throwIfFailed();
      },
    });
    // Any failure on the way in (a part rejected, the producer destroying the stream) must
    // not leave parts behind. If the abort fails too (endpoint gone, credentials expired) the
    // caller's own abort() reports it: this early start must not reject into nowhere.
    this.stream.on('error', () => void this.abort().catch(() => undefined));
    this.stream.on('finish', () => (this.finished = true));
  }

  async start(): Promise<void> {
    const created = await this.client.send(new CreateMultipartUploadCommand(this.params));
    this.uploadId = created.UploadId;
  }

  /** Bytes written so far (all of them once the stream finished). */
  get size(): number {
    return this.totalBytes;
  }

  /**
   * Complete the upload; the object becomes visible now. With IfNoneMatch '*' the server
   * refuses (412) when the key exists. Returns its size.
   */
  async complete(IfNoneMatch?: '*'): Promise<number> {
    if (!this.finished) throw new Error('the upload stream was not ended before commit()');
    const { Bucket, Key } = this.params;
    if (this.done.length === 0) {
      // Nothing was written: a multipart upload needs a part, so store an empty object instead.
      await this.abortMultipart();
      await this.client.send(new PutObjectCommand({ ...this.params, Body: new Uint8Array(0), ContentLength: 0, IfNoneMatch }));
      this.completed = true;
      return 0;
    }
    const Parts = [...this.done].sort((a, b) => a.PartNumber! - b.PartNumber!);
    try {
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: this.uploadId, MultipartUpload: { Parts }, IfNoneMatch }));
    } catch (e) {
      // The SDK retries a completion whose answer was lost (a reset, the idle limit); the retry
      // then finds the upload gone (404 NoSuchUpload) or, with If-None-Match, the key taken (412),
      // though the first attempt stored the object. It is ours if it is exactly these parts.
      if (!(await this.isStoredWhole(Parts))) throw e;
    }
    this.completed = true;
    return this.totalBytes;
  }

  /** Whether the key holds exactly the completed parts: their size, and S3's multipart ETag (md5 of the parts' md5s, "-N"). */
  private async isStoredWhole(Parts: CompletedPart[]): Promise<boolean> {
    const { Bucket, Key } = this.params;
    const head = await this.client.send(new HeadObjectCommand({ Bucket, Key })).catch(() => undefined);
    if (!head || head.ContentLength !== this.totalBytes) return false;
    const partMd5s = Parts.map((p) => Buffer.from((p.ETag ?? '').replace(/"/g, ''), 'hex'));
    const expected = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${Parts.length}"`;
    return head.ETag === expected;
  }

  /** Idempotent; a no-op once complete() succeeded (cleanup code may call it regardless). */
  abort(): Promise<void> {
    if (this.completed) return Promise.resolve();
    this.aborting ??= (async () => {
      if (!this.stream.destroyed) this.stream.destroy();
      await Promise.allSettled(this.inFlight);
      await this.abortMultipart();
    })();
    return this.aborting;
  }

  private async abortMultipart(): Promise<void> {
    const { Bucket, Key } = this.params;
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: this.uploadId }));
    } catch (e) {
      if (statusOf(e) !== 404) throw e; // already gone
    }
  }

  /** Start a part upload; resolve once there is room for another (rejects if a part failed). */
  private async send(body: Buffer): Promise<void> {
    this.throwIfFailed();
    const { maxParts, maxObject } = this.parts.limits;
    if (this.nextPartNumber > maxParts) {
      throw new LsError('ETARGET', {
        target: `s3://${this.params.Bucket}/${this.params.Key}`,
        message:
          `the archive is larger than one S3 object can be (${maxParts} parts, ${formatBytes(this.totalBytes)} so far; S3's limit is ${formatBytes(maxObject)}). ` +
          "Raise the partSize option (the first parts' size; later parts grow from it) or back up fewer components per run (--only/--skip)",
      });
    }
    const PartNumber = this.nextPartNumber++;
    this.totalBytes += body.length;
    const { Bucket, Key } = this.params;
    // The task never rejects: a failure is kept and surfaces at the next write or at the end.
    const task: Promise<void> = this.client
      .send(new UploadPartCommand({ Bucket, Key, UploadId: this.uploadId, PartNumber, Body: body, ContentLength: body.length }))
      .then((r) => void this.done.push({ PartNumber, ETag: r.ETag }))
      .catch((e: Error) => void (this.failure ??= explainUploadFailure(e, Key, this.idleSeconds) as Error))
      .finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
    if (this.inFlight.size >= this.queueSize) await Promise.race(this.inFlight);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

/**
 * The marker of a listing's next page. A page that says more follow but names no marker would
 * end the listing there: retention would decide on part of the backups, and the leftovers sweep
 * miss some. Refused instead.
 */
function nextMarker<T>(truncated: boolean | undefined, marker: T | undefined, what: string): T | undefined {
  if (!truncated) return undefined;
  if (marker === undefined || marker === '') {
    throw new Error(
      `the store answered a page of its ${what} listing as truncated but gave no marker for the next page: the listing is incomplete (a store that does not follow S3's ListObjectsV2/ListMultipartUploads pagination)`,
    );
  }
  return marker;
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError']);

/** One clear ETARGET error; the secret is never part of it (the SDK never echoes it either). */
function targetError(uri: string, action: string, cause: unknown, idleSeconds: number): LsError {
  if (cause instanceof LsError) return cause;
  const code = cause instanceof S3ServiceException ? cause.name : (cause as Error)?.name;
  if (isIdleTimeout(cause)) return new LsError('ETARGET', { target: uri, message: noAnswer(action, idleSeconds) }, { cause });
  const status = statusOf(cause);
  if (CREDENTIAL_ERRORS.has(code) || status === 403 || status === 401) {
    return new LsError(
      'ETARGET',
      { target: uri, message: `${action}: the credentials were rejected (${code}); check accessKeyId/secretAccessKey and the bucket policy` },
      { cause },
    );
  }
  return new LsError('ETARGET', { target: uri, message: `${action}: ${code ?? 'error'}: ${(cause as Error)?.message ?? cause}` }, { cause });
}
