/**
 * Incrementals on a remote target (docs/incremental.md) — the real Swift S3 server
 * (test/infra/swift.ts): the base is found by listing the bucket, a chain stored in S3 and a local
 * directory at once restores from either, staged and in stream mode, and a chain member missing
 * from one of the targets makes the next run a full rather than a reference that target cannot
 * serve. The base changed underneath in the bucket (overwritten with other bytes, replaced by
 * another backup of the cluster with its sidecars, deleted): the next run builds only on bytes
 * that are there, or what it made is refused by restore and verify naming the base, and the run
 * after the verify is a full.
 */
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdirSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliOutput, jsonEvents, runCli, type CliResult } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import { createBucket, s3ClientOf, s3TargetFlags, startSwiftS3, type S3Server } from '../infra/swift.js';
import { parseBackupName } from '../../engine/archive/index.js';

const TIMEOUT_MS = 300_000;
const BUCKET = 'lsb-incr';
let s3: S3Server;
let client: S3Client;
let cluster: Cluster;
let tree: string;
let env: Record<string, string>;

beforeAll(async () => {
  s3 = await startSwiftS3();
  await createBucket(s3, BUCKET);
  client = await s3ClientOf(s3);
  cluster = await createCluster({ local: ['app'] });
  const data = cluster.dataDir('localhost');
  tree = path.join(data, 'tree');
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe(
    'app',
    'hosts: { group: app, run: all }\nvars: { data: /nonexistent }\nbackup:\n  collect:\n    - path: "{{vars.data}}/tree"\nrestore:\n  apply:\n    - files: "{{vars.data}}/tree"\n',
  );
  env = { ...cluster.env, S3_KEY: s3.accessKeyId, S3_SECRET: s3.secretAccessKey };
}, TIMEOUT_MS);
afterAll(async () => {
  client?.destroy();
  await cluster?.cleanup();
  await s3?.stop();
});

const cli = (args: string[]) => runCli(args, { env, timeoutMs: TIMEOUT_MS });
/**
 * The local directory each test's chain is also stored in, one per bucket prefix: a directory
 * shared by the tests held the previous test's backup of the same second, so a run stored there
 * as `…Z_1` and in the bucket as `…Z` (two names for one backup), and the test used the wrong one.
 */
const localCopy = (prefix: string) => {
  const dir = path.join(cluster.dir, `local-${prefix}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};
const targets = (prefix: string) => [...s3TargetFlags(s3, `s3://${BUCKET}/${prefix}`), '-t', localCopy(prefix)];

/**
 * One run into both targets: the name it got in the bucket (the tests work on the bucket) and
 * what its metadata says of the chain. A name taken in one target only (a backup of the same
 * second removed from the other) gives the copies different names (`…Z` and `…Z_1`): each
 * target's own is read from its `archive.stored` event.
 */
async function backup(prefix: string, mode: '--full' | '--incremental'): Promise<{ name: string; kind: string; base?: string; refs: number; output: string }> {
  const run = await cli(['apply', cluster.recipes, '-b', cluster.build, ...targets(prefix), mode, '--json']);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  const stored = jsonEvents<{ name: string; target: string }>(run.stdout, 'archive.stored');
  const nameIn = (bucket: boolean) => stored.find((e) => e.target.startsWith('s3://') === bucket)!.name;
  const metadata = JSON.parse(await readFile(path.join(localCopy(prefix), `${nameIn(false)}.metadata.json`), 'utf8')) as {
    kind: string;
    base?: { archive: string };
    entries: { ref?: string }[];
  };
  return { name: nameIn(true), kind: metadata.kind, base: metadata.base?.archive, refs: metadata.entries.filter((e) => e.ref).length, output: cliOutput(run) };
}

const inBucket = (prefix: string) => s3TargetFlags(s3, `s3://${BUCKET}/${prefix}`);
const restoreFromBucket = (prefix: string, name: string, extra: string[] = []): Promise<CliResult> =>
  cli(['restore', name, ...inBucket(prefix), '-b', cluster.build, '--recipes', cluster.recipes, '--yes', ...extra]);
const removeObject = (key: string) => client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
async function object(key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/** The tree the changed-underneath tests back up: steady.txt, and changing.txt holding `changing`. */
async function freshTree(changing: string): Promise<void> {
  await rm(tree, { recursive: true, force: true });
  await mkdir(tree, { recursive: true });
  await writeFile(path.join(tree, 'steady.txt'), 'steady\n'.repeat(5000));
  await writeFile(path.join(tree, 'changing.txt'), changing);
}

/** `name` restores the tree as it is (changing.txt holding `changing`) from the bucket alone, and verifies there. */
async function expectRestores(prefix: string, name: string, changing: string): Promise<void> {
  await rm(tree, { recursive: true });
  const run = await restoreFromBucket(prefix, name);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  expect(await readFile(path.join(tree, 'steady.txt'), 'utf8')).toBe('steady\n'.repeat(5000));
  expect(await readFile(path.join(tree, 'changing.txt'), 'utf8')).toBe(changing);
  expect((await readdir(tree)).sort()).toEqual(['changing.txt', 'steady.txt']);
  const verify = await cli(['verify', name, ...inBucket(prefix)]);
  expect(verify.exitCode, cliOutput(verify)).toBe(0);
}

it(
  'a chain in S3 and a local directory: each run compares with the newest, and the newest restores from S3 staged and streamed',
  async () => {
    await writeFile(path.join(tree, 'steady.txt'), 'steady\n'.repeat(5000));
    await writeFile(path.join(tree, 'sub/changing.txt'), 'one\n');
    const full = await backup('prod', '--full');
    await writeFile(path.join(tree, 'sub/changing.txt'), 'two, longer\n');
    await writeFile(path.join(tree, 'added.txt'), 'added\n');
    const first = await backup('prod', '--incremental');
    await rm(path.join(tree, 'added.txt'));
    await writeFile(path.join(tree, 'sub/later.txt'), 'later\n');
    const second = await backup('prod', '--incremental');
    expect([full.kind, first.kind, first.base, second.kind, second.base]).toEqual(['full', 'incremental', full.name, 'incremental', first.name]);

    const want = { 'steady.txt': 'steady\n'.repeat(5000), 'sub/changing.txt': 'two, longer\n', 'sub/later.txt': 'later\n' };
    for (const extra of [[], ['--stream']]) {
      await rm(tree, { recursive: true });
      const restore = await restoreFromBucket('prod', second.name, extra);
      expect(restore.exitCode, `${extra.join(' ')}: ${cliOutput(restore)}`).toBe(0);
      for (const [rel, text] of Object.entries(want)) expect(await readFile(path.join(tree, rel), 'utf8'), rel).toBe(text);
      expect((await readdir(tree)).sort()).toEqual(['steady.txt', 'sub']);
    }
    const verify = await cli(['verify', second.name, ...inBucket('prod')]);
    expect(verify.exitCode, cliOutput(verify)).toBe(0);
  },
  TIMEOUT_MS,
);

it(
  'a chain member deleted from one target (S3, then the local copy): the next run is a full, naming the target and the member',
  async () => {
    const full = await backup('other', '--full');
    await writeFile(path.join(tree, 'more.txt'), 'more\n');
    const first = await backup('other', '--incremental');
    expect(first.base).toBe(full.name);
    await removeObject(`other/${full.name}`);
    const afterS3Loss = await backup('other', '--incremental');
    expect(afterS3Loss.kind).toBe('full');
    expect(afterS3Loss.output).toContain(`the chain of ${first.name} is incomplete in s3://${BUCKET}/other: ${full.name} is missing`);

    // The first target holds the chain, the second lost its full.
    await writeFile(path.join(tree, 'more.txt'), 'more, changed\n');
    const next = await backup('other', '--incremental');
    expect(next.base).toBe(afterS3Loss.name);
    for (const n of await readdir(localCopy('other'))) if (n.startsWith(afterS3Loss.name)) await rm(path.join(localCopy('other'), n));
    const afterLocalLoss = await backup('other', '--incremental');
    expect(afterLocalLoss.kind).toBe('full');
    expect(afterLocalLoss.output).toContain(`${localCopy('other')} lacks ${afterS3Loss.name}, which the chain of ${next.name} needs`);
  },
  TIMEOUT_MS,
);

it(
  "the base's object overwritten in the bucket by other bytes of its size (bit rot), its sidecars left: the incremental on it is refused by restore and verify naming the base; after the verify the next run is a full that restores",
  async () => {
    await freshTree('one\n');
    const full = await backup('overwritten', '--full');
    // Other bytes under the base's key, as many as it had (what no listing shows); the sidecars still agree with each other.
    const { size } = await stat(path.join(localCopy('overwritten'), full.name));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `overwritten/${full.name}`, Body: Buffer.alloc(size, 7) }));
    await writeFile(path.join(tree, 'changing.txt'), 'two\n');
    // The run reads sidecars only (reading the base whole would cost what the incremental saves).
    const incr = await backup('overwritten', '--incremental');
    expect([incr.kind, incr.base], incr.output).toEqual(['incremental', full.name]);

    await rm(tree, { recursive: true });
    const refused = await restoreFromBucket('overwritten', incr.name);
    expect(refused.exitCode, cliOutput(refused)).not.toBe(0);
    expect(cliOutput(refused)).toContain(full.name);
    await expect(readdir(tree), 'no host was touched').rejects.toThrow(/ENOENT/);
    const verify = await cli(['verify', incr.name, ...inBucket('overwritten')]);
    expect(verify.exitCode, cliOutput(verify)).not.toBe(0);
    expect(verify.stdout).toContain(`${full.name}: `);
    // The local copy of the chain is intact and still serves.
    const fromLocal = await cli(['restore', incr.name, '-t', localCopy('overwritten'), '-b', cluster.build, '--recipes', cluster.recipes, '--yes']);
    expect(fromLocal.exitCode, cliOutput(fromLocal)).toBe(0);
    expect(await readFile(path.join(tree, 'changing.txt'), 'utf8')).toBe('two\n');

    await freshTree('three\n');
    const next = await backup('overwritten', '--incremental');
    expect([next.kind, next.refs], next.output).toEqual(['full', 0]);
    expect(next.output).toContain(`${full.name}, of the chain of ${incr.name}, was found damaged by a verify`);
    await expectRestores('overwritten', next.name, 'three\n');
  },
  TIMEOUT_MS,
);

it(
  "the base's object overwritten in the bucket by other bytes of another size, its sidecars left: the next incremental is a full, saying why (the size its .sha256 records), and restores",
  async () => {
    await freshTree('one\n');
    const full = await backup('resized', '--full');
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `resized/${full.name}`, Body: Buffer.alloc(4096, 7) }));
    await writeFile(path.join(tree, 'changing.txt'), 'two\n');
    // Was: an incremental on it, said success, whose restore refused (the base's bytes are not there).
    const next = await backup('resized', '--incremental');
    expect([next.kind, next.refs], next.output).toEqual(['full', 0]);
    const { size } = await stat(path.join(localCopy('resized'), full.name));
    expect(next.output).toContain(
      `${full.name} is 4096 bytes in s3://${BUCKET}/resized, its .sha256 sidecar records ${size}: the archive was replaced or damaged`,
    );
    await expectRestores('resized', next.name, 'two\n');
  },
  TIMEOUT_MS,
);

it(
  "the base's object replaced, with its .metadata.json and .sha256, by another backup of the cluster: never built on; the next incremental refers only to bytes that are there, and restores",
  async () => {
    await freshTree('one\n');
    const full = await backup('replaced', '--full');
    await writeFile(path.join(tree, 'changing.txt'), 'two\n');
    const first = await backup('replaced', '--incremental');
    expect(first.base).toBe(full.name);
    await writeFile(path.join(tree, 'changing.txt'), 'three\n');
    // The copy is told by its metadata's start time, which names carry to the second: `other` is
    // made in another second than `first` (backed up again until it is; docs/restore.md).
    let other = await backup('replaced', '--full');
    while (parseBackupName(other.name)!.time.getTime() === parseBackupName(first.name)!.time.getTime()) other = await backup('replaced', '--full');
    // `other` and its sidecars copied over the newest incremental's names, its .sha256 naming them; then removed.
    for (const suffix of ['', '.metadata.json']) {
      await client.send(
        new CopyObjectCommand({ Bucket: BUCKET, Key: `replaced/${first.name}${suffix}`, CopySource: `${BUCKET}/replaced/${other.name}${suffix}` }),
      );
    }
    const sha256 = (await object(`replaced/${other.name}.sha256`)).toString('utf8').replaceAll(other.name, first.name);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `replaced/${first.name}.sha256`, Body: sha256 }));
    for (const suffix of ['', '.metadata.json', '.sha256']) await removeObject(`replaced/${other.name}${suffix}`);

    await writeFile(path.join(tree, 'changing.txt'), 'four\n');
    const next = await backup('replaced', '--incremental');
    // The copy's metadata is not the run its name says: passed over; the full below it is intact.
    expect([next.kind, next.base], next.output).toEqual(['incremental', full.name]);
    expect(next.refs).toBeGreaterThan(0);
    await expectRestores('replaced', next.name, 'four\n');
  },
  TIMEOUT_MS,
);

it(
  "the base's archive deleted from the bucket, its sidecars left: the next incremental is based on what is there, and restores",
  async () => {
    await freshTree('one\n');
    const full = await backup('deleted', '--full');
    await writeFile(path.join(tree, 'changing.txt'), 'two\n');
    const first = await backup('deleted', '--incremental');
    expect(first.base).toBe(full.name);
    await removeObject(`deleted/${first.name}`);
    await writeFile(path.join(tree, 'changing.txt'), 'three\n');
    const next = await backup('deleted', '--incremental');
    expect([next.kind, next.base], next.output).toEqual(['incremental', full.name]);
    await expectRestores('deleted', next.name, 'three\n');

    // The full deleted too: the chain of the newest is incomplete, the next run is a full.
    await removeObject(`deleted/${full.name}`);
    await writeFile(path.join(tree, 'changing.txt'), 'four\n');
    const after = await backup('deleted', '--incremental');
    expect([after.kind, after.refs], after.output).toEqual(['full', 0]);
    expect(after.output).toContain(`the chain of ${next.name} is incomplete in s3://${BUCKET}/deleted: ${full.name} is missing`);
    await expectRestores('deleted', after.name, 'four\n');
  },
  TIMEOUT_MS,
);
