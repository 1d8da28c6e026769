// The S3 target against a REAL S3 implementation: OpenStack Swift's s3api (test/infra/swift.ts).
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LsError } from '../../engine/errors.js';
import { createS3Target } from '../../targets/s3.js';
import { S3_PART_LIMITS } from '../../targets/support/part-sizes.js';
import type { Target } from '../../targets/types.js';
import { MiB, randomSource, sha256Of } from './streams.js';
import { startSwiftS3, type S3Server } from '../infra/swift.js';
import { startS3Proxy } from '../faults/s3-proxy.js';

const BUCKET = 'lsbackup-test';
let server: S3Server;
let raw: S3Client;
let target: Target;

function options() {
  return {
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
  };
}

async function openUploads(): Promise<number> {
  const r = await raw.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
  return (r.Uploads ?? []).length;
}

beforeAll(async () => {
  server = await startSwiftS3();
  raw = new S3Client({ ...options(), credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
  await raw.send(new CreateBucketCommand({ Bucket: BUCKET }));
  target = createS3Target(`s3://${BUCKET}/prod/cluster1`, options());
});

afterAll(async () => {
  raw?.destroy();
  await server?.stop();
});

describe('S3 target (real Swift s3api)', () => {
  it('passes check() with good credentials', async () => {
    await expect(target.check()).resolves.toBeUndefined();
  });

  it('streams 50 MiB as a multipart upload, invisible until commit, and reads it back intact', async () => {
    const name = 'lsbackup-c1-20260101T000000Z.tar.gz';
    const source = randomSource(50 * MiB);
    const upload = await target.put(name);
    await pipeline(source.stream, upload.stream);
    // Whole, but not committed: nothing under the final name yet.
    expect(await target.stat(name)).toBeUndefined();
    expect((await target.list()).map((o) => o.name)).not.toContain(name);

    const stored = await upload.commit();
    expect(stored).toMatchObject({ name, size: 50 * MiB });
    // A multipart ETag ends in -<parts>: 50 MiB at 8 MiB a part is 7 parts.
    const head = await raw.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `prod/cluster1/${name}` }));
    expect(head.ETag).toMatch(/-7"$/);
    expect(await target.stat(name)).toMatchObject({ name, size: 50 * MiB });
    expect(await sha256Of(await target.get(name))).toBe(source.digest());
    expect(await openUploads()).toBe(0);
    // Cleanup code may abort after a commit: that must not remove the backup.
    await upload.abort();
    expect(await target.stat(name)).toMatchObject({ size: 50 * MiB });
  });

  it('grows the parts so an archive past partSize x the part limit still fits (part limit lowered to 4)', async () => {
    // 30 MiB in 5 MiB parts would take 6 parts; growing (5, 10, 15 MiB) it takes 3.
    const limits = { ...S3_PART_LIMITS, maxParts: 4, maxObject: 60 * MiB };
    const small = createS3Target(`s3://${BUCKET}/grow`, { ...options(), partSize: 5 * MiB }, limits);
    const name = 'lsbackup-c1-20260109T000000Z.tar.gz';
    const source = randomSource(30 * MiB);
    const upload = await small.put(name);
    await pipeline(source.stream, upload.stream);
    expect(await upload.commit()).toMatchObject({ name, size: 30 * MiB });
    const head = await raw.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `grow/${name}` }));
    expect(head.ETag).toMatch(/-3"$/);
    expect(await sha256Of(await small.get(name))).toBe(source.digest());
  });

  it('past the part limit: a clear error saying what to change, no object, no upload left', async () => {
    const limits = { ...S3_PART_LIMITS, maxParts: 2, maxObject: 15 * MiB };
    const small = createS3Target(`s3://${BUCKET}/limit`, { ...options(), partSize: 5 * MiB }, limits);
    const name = 'lsbackup-c1-20260110T000000Z.tar.gz';
    const upload = await small.put(name);
    const error = await pipeline(randomSource(40 * MiB).stream, upload.stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LsError);
    expect((error as Error).message).toMatch(/larger than one S3 object can be \(2 parts, .* Raise the partSize option .*--only\/--skip/);
    await expect(upload.commit()).rejects.toThrow(LsError);
    await upload.abort().catch(() => undefined);
    expect(await small.stat(name)).toBeUndefined();
    expect(await openUploads()).toBe(0);
  });

  it('leaves no object and no multipart upload when aborted mid-way', async () => {
    const name = 'lsbackup-c1-20260102T000000Z.tar.gz';
    const upload = await target.put(name);
    for (let i = 0; i < 20; i++) {
      if (!upload.stream.write(randomBytes(MiB))) await new Promise((r) => upload.stream.once('drain', r));
    }
    expect(await openUploads()).toBe(1);
    await upload.abort();
    expect(await target.stat(name)).toBeUndefined();
    expect(await openUploads()).toBe(0);
  });

  it('cleans up the multipart upload when the producer fails', async () => {
    const name = 'lsbackup-c1-20260103T000000Z.tar.gz';
    const upload = await target.put(name);
    async function* failing() {
      yield randomBytes(9 * MiB);
      throw new Error('pg_dumpall died');
    }
    await expect(pipeline(Readable.from(failing()), upload.stream)).rejects.toThrow('pg_dumpall died');
    await expect(upload.commit()).rejects.toThrow(LsError);
    expect(await target.stat(name)).toBeUndefined();
    expect(await openUploads()).toBe(0);
  });

  it('gives the archive its storageClass and leaves the sidecars in the default class', async () => {
    // The sidecars are read by every list, prune and restore: in a class such as GLACIER the store
    // refuses to read them until thawed. Swift takes only STANDARD (it refuses GLACIER, STANDARD_IA,
    // …: InvalidStorageClass), so this sends STANDARD and the proxy in front of Swift shows which
    // uploads carried a class; AWS reads the header the same way for every class.
    const proxy = await startS3Proxy(server.endpoint);
    try {
      const classed = createS3Target(`s3://${BUCKET}/classed`, { ...options(), endpoint: proxy.endpoint, storageClass: 'STANDARD' });
      const name = 'lsbackup-c1-20260110T000000Z.tar.gz';
      const upload = await classed.put(name);
      await pipeline(randomSource(MiB).stream, upload.stream);
      await upload.commit(['.sha256', '.metadata.json'].map((suffix) => ({ suffix, content: () => Readable.from([`${suffix}\n`]) })));
      const started = proxy.requests
        .map((line, i) => ({ line, storageClass: proxy.requestHeaders[i]!['x-amz-storage-class'] }))
        .filter(({ line }) => /^POST \S*\?uploads/.test(line))
        .map(({ line, storageClass }) => [/\/classed\/([^?]+)/.exec(line)![1], storageClass]);
      expect(Object.fromEntries(started)).toEqual({ [name]: 'STANDARD', [`${name}.sha256`]: undefined, [`${name}.metadata.json`]: undefined });
      expect((await classed.list()).map((o) => o.name).sort()).toEqual([name, `${name}.metadata.json`, `${name}.sha256`]);
    } finally {
      await proxy.close();
    }
  });

  it('picks name_1 before the extension on a collision', async () => {
    const name = 'lsbackup-c1-20260104T000000Z.tar.gz';
    for (const expected of [name, 'lsbackup-c1-20260104T000000Z_1.tar.gz']) {
      const upload = await target.put(name, { avoidCollision: true });
      await pipeline(Readable.from([Buffer.from('archive bytes')]), upload.stream);
      expect((await upload.commit()).name).toBe(expected);
    }
  });

  it('lists, stats, gets and deletes objects under its prefix only', async () => {
    const other = createS3Target(`s3://${BUCKET}/elsewhere`, options());
    const up = await other.put('not-mine.tar.gz');
    await pipeline(Readable.from([Buffer.from('x')]), up.stream);
    await up.commit();

    const empty = await target.put('empty.json');
    empty.stream.end();
    await new Promise((r) => empty.stream.once('finish', r));
    expect(await empty.commit()).toMatchObject({ name: 'empty.json', size: 0 });

    const names = (await target.list()).map((o) => o.name);
    expect(names).toContain('empty.json');
    expect(names).toContain('lsbackup-c1-20260104T000000Z_1.tar.gz');
    expect(names).not.toContain('not-mine.tar.gz');

    expect(await sha256Of(await target.get('lsbackup-c1-20260104T000000Z_1.tar.gz'))).toBe(createHash('sha256').update('archive bytes').digest('hex'));
    await target.delete('empty.json');
    expect(await target.stat('empty.json')).toBeUndefined();
    await expect(target.get('empty.json')).rejects.toThrow(/no object named empty.json/);
  });

  it('says clearly that wrong credentials were rejected, without printing the secret', async () => {
    const wrongSecret = 'definitely-not-the-secret';
    const bad = createS3Target(`s3://${BUCKET}/prod`, { ...options(), secretAccessKey: wrongSecret });
    for (const attempt of [() => bad.check(), () => bad.put('x.tar.gz'), () => bad.list()]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e as LsError,
      );
      expect(error).toBeInstanceOf(LsError);
      expect(error!.code).toBe('ETARGET');
      expect(error!.message).toMatch(/credentials were rejected/);
      expect(error!.message).not.toContain(wrongSecret);
    }
  });

  it('reports a missing bucket', async () => {
    const missing = createS3Target('s3://no-such-bucket-here/x', options());
    await expect(missing.check()).rejects.toThrow(/bucket 'no-such-bucket-here' does not exist/);
  });
});
