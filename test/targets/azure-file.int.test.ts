// The Azure file share target through the REAL @azure/storage-file-share SDK, against a
// STAND-IN of the Azure Files REST API (test/infra/azure-file-standin.ts): no emulator
// implements the File service. The stand-in verifies SharedKey signatures like Azure does.
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ShareServiceClient, StorageSharedKeyCredential } from '@azure/storage-file-share';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LsError } from '../../engine/errors.js';
import { createAzureFileTarget, TEMP_PREFIX } from '../../targets/azure-file.js';
import type { Target } from '../../targets/types.js';
import { MiB, randomSource, sha256Of } from './streams.js';
import { startAzureFileStandIn, type AzureFileStandIn } from '../infra/azure-file-standin.js';

const SHARE = 'backups';
let standIn: AzureFileStandIn;
let target: Target;

const uri = (dir: string) => `azfile://${standIn.account}/${SHARE}/${dir}`;
const options = () => ({ endpoint: standIn.endpoint, accountKey: standIn.accountKey });

beforeAll(async () => {
  standIn = await startAzureFileStandIn();
  const service = new ShareServiceClient(standIn.endpoint, new StorageSharedKeyCredential(standIn.account, standIn.accountKey));
  await service.getShareClient(SHARE).create();
  target = createAzureFileTarget(uri('prod/cluster1'), options());
});

afterAll(async () => {
  await standIn?.stop();
});

describe('Azure file share target (real SDK, stand-in File service)', () => {
  it('passes check() for an existing share', async () => {
    await expect(target.check()).resolves.toBeUndefined();
  });

  it('streams 21 MiB in ranges into nested new directories; the final name appears only at commit', async () => {
    const name = 'lsbackup-c1-20260101T000000Z.tar.gz';
    const size = 21 * MiB + 777;
    const source = randomSource(size);
    const upload = await target.put(name);
    await pipeline(source.stream, upload.stream);

    // Whole but uncommitted: neither the final name nor the temp name is listed.
    const before = (await target.list()).map((o) => o.name);
    expect(before).not.toContain(name);
    expect(before.some((n) => n.startsWith(TEMP_PREFIX))).toBe(false);
    expect(await target.stat(name)).toBeUndefined();
    // ...while the temp file really exists on the (stand-in) share.
    expect((await readdir(join(standIn.dataDir, SHARE, 'prod/cluster1'))).some((n) => n.startsWith(TEMP_PREFIX))).toBe(true);

    expect(await upload.commit()).toMatchObject({ name, size });
    expect(await target.stat(name)).toMatchObject({ name, size });
    expect(await sha256Of(await target.get(name))).toBe(source.digest());
    await upload.abort(); // cleanup after a commit must not remove the backup
    expect(await readdir(join(standIn.dataDir, SHARE, 'prod/cluster1'))).toEqual([name]);
  });

  it('deletes the temp file on abort', async () => {
    const upload = await target.put('lsbackup-c1-20260102T000000Z.tar.gz');
    upload.stream.write(randomBytes(5 * MiB));
    await upload.abort();
    expect(await readdir(join(standIn.dataDir, SHARE, 'prod/cluster1'))).toEqual(['lsbackup-c1-20260101T000000Z.tar.gz']);
  });

  it("past Azure's largest file (lowered to 9 MiB here): a clear error, no file left", async () => {
    const small = createAzureFileTarget(uri('prod/limit'), options(), 9 * MiB);
    const upload = await small.put('lsbackup-c1-20260105T000000Z.tar.gz');
    const error = await pipeline(Readable.from([randomBytes(12 * MiB)]), upload.stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/larger than an Azure file can be \(9\.0 MiB\).*--only\/--skip/);
    await expect(upload.commit()).rejects.toThrow(LsError);
    expect(await readdir(join(standIn.dataDir, SHARE, 'prod/limit'))).toEqual([]);
  });

  it('deletes the temp file when the producer fails', async () => {
    const upload = await target.put('lsbackup-c1-20260103T000000Z.tar.gz');
    async function* failing() {
      yield randomBytes(5 * MiB);
      throw new Error('tar died');
    }
    await expect(pipeline(Readable.from(failing()), upload.stream)).rejects.toThrow('tar died');
    await expect(upload.commit()).rejects.toThrow(LsError);
    expect(await readdir(join(standIn.dataDir, SHARE, 'prod/cluster1'))).toEqual(['lsbackup-c1-20260101T000000Z.tar.gz']);
  });

  it('picks name_1 before the extension on a collision', async () => {
    const name = 'lsbackup-c1-20260104T000000Z.tar.gz';
    for (const expected of [name, 'lsbackup-c1-20260104T000000Z_1.tar.gz', 'lsbackup-c1-20260104T000000Z_2.tar.gz']) {
      const upload = await target.put(name, { avoidCollision: true });
      await pipeline(Readable.from([Buffer.from(expected)]), upload.stream);
      expect((await upload.commit()).name).toBe(expected);
    }
    // Each kept its own bytes: nothing was overwritten.
    expect(await sha256Of(await target.get(name))).toBe(createHash('sha256').update(name).digest('hex'));
  });

  it('lists, stats, gets and deletes; an empty upload is an empty file', async () => {
    const empty = await target.put('empty.json');
    empty.stream.end();
    await new Promise((r) => empty.stream.once('finish', r));
    expect(await empty.commit()).toMatchObject({ name: 'empty.json', size: 0 });
    const listed = await target.list();
    expect(listed.map((o) => o.name).sort()).toEqual([
      'empty.json',
      'lsbackup-c1-20260101T000000Z.tar.gz',
      'lsbackup-c1-20260104T000000Z.tar.gz',
      'lsbackup-c1-20260104T000000Z_1.tar.gz',
      'lsbackup-c1-20260104T000000Z_2.tar.gz',
    ]);
    expect(listed.every((o) => o.modified.getTime() > 0)).toBe(true);
    await target.delete('empty.json');
    expect(await target.stat('empty.json')).toBeUndefined();
    await expect(target.get('empty.json')).rejects.toThrow(/no file named empty.json/);
    expect(await createAzureFileTarget(uri('never/written'), options()).list()).toEqual([]);
  });

  it('says clearly that a wrong account key was rejected, without printing it', async () => {
    const wrongKey = randomBytes(64).toString('base64');
    const bad = createAzureFileTarget(uri('prod/cluster1'), { ...options(), accountKey: wrongKey });
    for (const attempt of [() => bad.check(), () => bad.put('x.tar.gz'), () => bad.list()]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e as LsError,
      );
      expect(error).toBeInstanceOf(LsError);
      expect(error!.message).toMatch(/account key or SAS token was rejected/);
      expect(error!.message).not.toContain(wrongKey);
    }
  });

  it('reports a missing share', async () => {
    const missing = createAzureFileTarget(`azfile://${standIn.account}/nosuchshare/x`, options());
    await expect(missing.check()).rejects.toThrow(/share 'nosuchshare' does not exist/);
    // Listing it too: a mistyped share read as "no backups" (list, restore latest, prune) before.
    await expect(missing.list()).rejects.toThrow(/share 'nosuchshare' does not exist/);
    // A directory not made yet in a real share holds no backups: the first upload creates it.
    expect(await createAzureFileTarget(uri('not/yet'), options()).list()).toEqual([]);
  });
});
