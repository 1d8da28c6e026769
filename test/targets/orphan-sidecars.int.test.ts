/**
 * Sidecars without their archive: a run killed between placing a backup's sidecars and its
 * archive (the archive goes last), or a prune killed between deleting an archive and its
 * sidecars (the archive goes first), leaves them. Listings skip them, so before this nothing
 * ever removed them. Each target's cleanStale (a run's start, `prune`, `prune --leftovers`)
 * removes those of lsbackup backups once idle for the grace period: an hour on a directory
 * (every lsbackup run there holds the target's lock; the hour spares a copy made by hand,
 * sidecars first), `staleUploadHours` by the store's clock on S3 and Azure Files, which other
 * machines write too. A sidecar whose archive is there, and a file that only ends like one, stay.
 *
 * REAL: the local target on this machine's disk, through the target API and the built CLI; S3
 * through Swift's s3api (test/infra/swift.ts). Azure Files through the real SDK against the
 * stand-in of its REST API (test/infra/azure-file-standin.ts; no emulator has the File service),
 * which reports a file's mtime as its Last-Modified, so "idle a day" is an mtime set back.
 */
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ShareServiceClient, StorageSharedKeyCredential } from '@azure/storage-file-share';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureFileTarget } from '../../targets/azure-file.js';
import { createLocalTarget } from '../../targets/local.js';
import { createS3Target } from '../../targets/s3.js';
import type { Target } from '../../targets/types.js';
import { tempDir } from '../archive/helpers.js';
import { cliOutput, runCli } from '../helpers/cli.js';
import { sleep } from '../infra/servers/common.js';
import { startAzureFileStandIn, type AzureFileStandIn } from '../infra/azure-file-standin.js';
import { s3ClientOf, startSwiftS3, type S3Server } from '../infra/swift.js';

const WHOLE = 'lsbackup-c1-20260101T000000Z.tar.gz';
/** c1's backup whose archive never arrived. */
const ORPHANS = ['lsbackup-c1-20260102T000000Z.tar.gz.metadata.json', 'lsbackup-c1-20260102T000000Z.tar.gz.sha256'];
/** Another cluster's. */
const OTHER = 'lsbackup-c2-20260103T000000Z.tar.gz.metadata.json';
/** Not a sidecar of an lsbackup backup. */
const FOREIGN = 'notes.txt.sha256';
/** c1's, written just now: within the grace period. */
const YOUNG = 'lsbackup-c1-20260104T000000Z.tar.gz.sha256';

/** Puts the objects of the scenario; `idle` backdates the old ones where the store allows it. */
async function seed(put: (name: string) => Promise<void>, idle: (name: string) => Promise<void>) {
  for (const name of [WHOLE, `${WHOLE}.sha256`, `${WHOLE}.metadata.json`, ...ORPHANS, OTHER, FOREIGN, YOUNG]) await put(name);
  for (const name of [WHOLE, `${WHOLE}.sha256`, `${WHOLE}.metadata.json`, ...ORPHANS, OTHER, FOREIGN]) await idle(name);
}

/** The scenario as files in `where` (a directory target, or the stand-in's share), the old ones last written at `idleSince`. */
async function seedFiles(where: string, idleSince: Date) {
  await mkdir(where, { recursive: true });
  await seed(
    (name) => writeFile(join(where, name), name),
    (name) => utimes(join(where, name), idleSince, idleSince),
  );
}

const named = (found: string[]) => found.map((f) => f.split(' ')[0]).sort();

/** What the stores hold at the end: the whole backup, the foreign file, and what was young. */
const KEPT = [WHOLE, `${WHOLE}.metadata.json`, `${WHOLE}.sha256`, FOREIGN, YOUNG].sort();

/** The scenario on a target whose grace period the old objects are past and the young one is not. */
async function removesIdleOrphans(target: Target, names: () => Promise<string[]>) {
  const dry = await target.cleanStale!({ cluster: 'c1', dryRun: true });
  expect(named(dry)).toEqual(ORPHANS);
  expect(dry[0]).toMatch(/ \(sidecar without its archive/);
  expect(await names()).toContain(ORPHANS[0]);
  // A run of c1 removes c1's; another cluster's is not its to touch.
  expect(named(await target.cleanStale!({ cluster: 'c1' }))).toEqual(ORPHANS);
  // prune removes every cluster's.
  expect(named(await target.cleanStale!({}))).toEqual([OTHER]);
  expect((await names()).sort()).toEqual(KEPT);
}

describe('a directory target', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir('lsb-orphans-');
  });
  afterAll(async () => dir?.cleanup());

  it('removes sidecars without their archive once idle an hour, keeps the young, the whole and the foreign', async () => {
    const where = join(dir.path, 'api');
    await seedFiles(where, new Date(Date.now() - 2 * 3600_000));
    await removesIdleOrphans(createLocalTarget(`file://${where}`), () => readdir(where));
  });

  it('prune --leftovers names and removes them', async () => {
    const where = join(dir.path, 'cli');
    await seedFiles(where, new Date(Date.now() - 2 * 3600_000));
    const listed = await runCli(['prune', '--leftovers', '--dry-run', '-t', where]);
    expect(listed.exitCode, cliOutput(listed)).toBe(0);
    for (const name of [...ORPHANS, OTHER]) expect(listed.stdout).toContain(`would remove leftover: ${name} (sidecar without its archive)`);
    expect(listed.stdout).not.toContain(YOUNG);
    const removed = await runCli(['prune', '--leftovers', '-t', where]);
    expect(removed.exitCode, cliOutput(removed)).toBe(0);
    expect(removed.stdout).toContain(`removed leftover: ${OTHER} (sidecar without its archive)`);
    expect((await readdir(where)).sort()).toEqual(KEPT);
  });
});

describe('an S3 target (real Swift s3api)', () => {
  const BUCKET = 'lsbackup-orphans';
  let server: S3Server;
  let raw: S3Client;
  const options = (staleUploadHours?: number) => ({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    ...(staleUploadHours !== undefined ? { staleUploadHours } : {}),
  });
  beforeAll(async () => {
    server = await startSwiftS3();
    raw = await s3ClientOf(server);
    await raw.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  afterAll(async () => {
    raw?.destroy();
    await server?.stop();
  });

  it("keeps every orphan younger than staleUploadHours by the store's clock, and removes them past it", async () => {
    const prefix = 'prod';
    // The store sets Last-Modified: every object is as young as it can be.
    await seed(
      async (name) => void (await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${name}`, Body: name }))),
      async () => undefined,
    );
    const names = async () => (await createS3Target(`s3://${BUCKET}/${prefix}`, options()).list()).map((o) => o.name);
    // The default grace period (24 h): another machine may be between a backup's sidecars and its archive.
    expect(await createS3Target(`s3://${BUCKET}/${prefix}`, options()).cleanStale!({})).toEqual([]);
    // With none, everything without its archive is a dead run's, the just-written one too, once
    // the store's clock has passed it (Swift reports Last-Modified rounded up to the second).
    const newest = Math.max(...(await createS3Target(`s3://${BUCKET}/${prefix}`, options()).list()).map((o) => o.modified.getTime()));
    while (Date.now() <= newest) await sleep(100);
    const past = createS3Target(`s3://${BUCKET}/${prefix}`, options(0));
    expect(named(await past.cleanStale!({ cluster: 'c1' }))).toEqual([...ORPHANS, YOUNG].sort());
    expect(named(await past.cleanStale!({}))).toEqual([OTHER]);
    expect((await names()).sort()).toEqual([WHOLE, `${WHOLE}.metadata.json`, `${WHOLE}.sha256`, FOREIGN].sort());
  });
});

describe('an Azure file share target (real SDK, stand-in File service)', () => {
  const SHARE = 'backups';
  let az: AzureFileStandIn;
  beforeAll(async () => {
    az = await startAzureFileStandIn();
    await new ShareServiceClient(az.endpoint, new StorageSharedKeyCredential(az.account, az.accountKey)).getShareClient(SHARE).create();
  });
  afterAll(async () => az?.stop());

  it('removes sidecars without their archive once idle staleUploadHours, keeps the young, the whole and the foreign', async () => {
    const where = join(az.dataDir, SHARE, 'prod');
    await seedFiles(where, new Date(Date.now() - 25 * 3600_000));
    const target = createAzureFileTarget(`azfile://${az.account}/${SHARE}/prod`, { endpoint: az.endpoint, accountKey: az.accountKey });
    await removesIdleOrphans(target, () => readdir(where));
  });
});
