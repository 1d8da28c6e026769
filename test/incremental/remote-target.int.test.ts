/**
 * Incrementals on a remote target (docs/incremental.md) — the real Swift S3 server
 * (test/infra/swift.ts): the base is found by listing the bucket, a chain stored in S3 and a local
 * directory at once restores from either, staged and in stream mode, and a chain member missing
 * from one of the targets makes the next run a full rather than a reference that target cannot
 * serve.
 */
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliOutput, jsonEvents, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import { createBucket, s3TargetFlags, startSwiftS3, type S3Server } from '../infra/swift.js';

const TIMEOUT_MS = 300_000;
const BUCKET = 'lsb-incr';
let s3: S3Server;
let cluster: Cluster;
let tree: string;
let local: string;
let env: Record<string, string>;

beforeAll(async () => {
  s3 = await startSwiftS3();
  await createBucket(s3, BUCKET);
  cluster = await createCluster({ local: ['app'] });
  const data = cluster.dataDir('localhost');
  tree = path.join(data, 'tree');
  local = path.join(cluster.dir, 'local-copy');
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  await mkdir(local);
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe(
    'app',
    'hosts: { group: app, run: all }\nvars: { data: /nonexistent }\nbackup:\n  collect:\n    - path: "{{vars.data}}/tree"\nrestore:\n  apply:\n    - files: "{{vars.data}}/tree"\n',
  );
  env = { ...cluster.env, S3_KEY: s3.accessKeyId, S3_SECRET: s3.secretAccessKey };
}, TIMEOUT_MS);
afterAll(async () => {
  await cluster?.cleanup();
  await s3?.stop();
});

const cli = (args: string[]) => runCli(args, { env, timeoutMs: TIMEOUT_MS });
const targets = (prefix: string) => [...s3TargetFlags(s3, `s3://${BUCKET}/${prefix}`), '-t', local];

/** One run into both targets: the stored name and what its metadata says of the chain. */
async function backup(prefix: string, mode: '--full' | '--incremental'): Promise<{ name: string; kind: string; base?: string; output: string }> {
  const run = await cli(['apply', cluster.recipes, '-b', cluster.build, ...targets(prefix), mode, '--json']);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  const name = jsonEvents<{ name: string }>(run.stdout, 'archive.stored')[0]!.name;
  const metadata = JSON.parse(await readFile(path.join(local, `${name}.metadata.json`), 'utf8')) as { kind: string; base?: { archive: string } };
  return { name, kind: metadata.kind, base: metadata.base?.archive, output: cliOutput(run) };
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
      const restore = await cli([
        'restore',
        second.name,
        ...s3TargetFlags(s3, `s3://${BUCKET}/prod`),
        '-b',
        cluster.build,
        '--recipes',
        cluster.recipes,
        '--yes',
        ...extra,
      ]);
      expect(restore.exitCode, `${extra.join(' ')}: ${cliOutput(restore)}`).toBe(0);
      for (const [rel, text] of Object.entries(want)) expect(await readFile(path.join(tree, rel), 'utf8'), rel).toBe(text);
      expect((await readdir(tree)).sort()).toEqual(['steady.txt', 'sub']);
    }
    const verify = await cli(['verify', second.name, ...s3TargetFlags(s3, `s3://${BUCKET}/prod`)]);
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
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    try {
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `other/${full.name}` }));
    } finally {
      client.destroy();
    }
    const afterS3Loss = await backup('other', '--incremental');
    expect(afterS3Loss.kind).toBe('full');
    expect(afterS3Loss.output).toContain(`the chain of ${first.name} is incomplete in s3://${BUCKET}/other: ${full.name} is missing`);

    // The first target holds the chain, the second lost its full.
    await writeFile(path.join(tree, 'more.txt'), 'more, changed\n');
    const next = await backup('other', '--incremental');
    expect(next.base).toBe(afterS3Loss.name);
    for (const n of await readdir(local)) if (n.startsWith(afterS3Loss.name)) await rm(path.join(local, n));
    const afterLocalLoss = await backup('other', '--incremental');
    expect(afterLocalLoss.kind).toBe('full');
    expect(afterLocalLoss.output).toContain(`${local} lacks ${afterS3Loss.name}, which the chain of ${next.name} needs`);
  },
  TIMEOUT_MS,
);
