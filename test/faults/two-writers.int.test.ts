/**
 * Two writers, one cluster, one prefix (issue 19 item 2): as on two machines, each with its own
 * lock directory, so only the target keeps them apart. Publishing must never overwrite: never
 * the same name twice, every archive verifies against its own `.sha256`, and each metadata
 * sidecar belongs to the run that made the archive it names.
 *
 * - End to end: two `lsbackup apply` started together, 20 rounds, against the real S3 server
 *   (Swift's s3api, which refuses conditional writes: the claim objects must hold), the Azure
 *   Files stand-in (rename without replace refused atomically, as Azure documents) and a local
 *   directory (its lock lives in the directory, so the second run waits and both succeed).
 * - The publishing primitive itself: two processes commit the SAME name at the same moment
 *   through each target plugin (the built dist), 20 rounds: one gets it, the other `_1`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { cliOutput, recipeYaml, repoRoot, runCli, workspace } from '../helpers/cli.js';
import { createBucket, startSwiftS3, type S3Server } from '../infra/swift.js';
import { shareOf, startAzureFileStandIn, type AzureFileStandIn } from '../infra/azure-file-standin.js';
import { openTarget } from '../../targets/registry.js';
import type { Target } from '../../targets/types.js';
import { verifyBackup } from '../../engine/catalog/verify.js';
import { waitFor } from './support.js';

const BUCKET = 'lsb-two-writers';
const SHARE = 'backups';
const ROUNDS = 20;
let s3: S3Server;
let az: AzureFileStandIn;
let ws: Awaited<ReturnType<typeof workspace>>;

beforeAll(async () => {
  [s3, az, ws] = await Promise.all([startSwiftS3(), startAzureFileStandIn(), workspace('lsb-two-writers-')]);
  await createBucket(s3, BUCKET);
  await (await shareOf(az, SHARE)).create();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await writeFile(path.join(ws.dir, 'data.bin'), randomBytes(64 * 1024));
  await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\ndetect: "true"\nbackup:\n  collect:\n    - path: ${ws.dir}/data.bin\n`));
}, 300_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), az?.stop(), ws?.cleanup()]);
});

interface TargetUnderTest {
  uri: string;
  options: Record<string, unknown>;
  /** CLI flags naming the target and its credentials. */
  flags: string[];
  env: Record<string, string>;
}

const s3Target = (prefix: string): TargetUnderTest => ({
  uri: `s3://${BUCKET}/${prefix}`,
  options: { endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  flags: [
    '-t',
    `s3://${BUCKET}/${prefix}`,
    '--s3-endpoint',
    s3.endpoint,
    '--s3-path-style',
    '--target-secret',
    'accessKeyId=S3_KEY',
    '--target-secret',
    'secretAccessKey=S3_SECRET',
  ],
  env: { S3_KEY: s3.accessKeyId, S3_SECRET: s3.secretAccessKey },
});
const azTarget = (dir: string): TargetUnderTest => ({
  uri: `azfile://${az.account}/${SHARE}/${dir}`,
  options: { endpoint: az.endpoint, accountKey: az.accountKey },
  flags: ['-t', `azfile://${az.account}/${SHARE}/${dir}`, '--target-option', `endpoint=${az.endpoint}`, '--target-secret', 'accountKey=AZ_KEY'],
  env: { AZ_KEY: az.accountKey },
});
const localTarget = (dir: string): TargetUnderTest => ({
  uri: path.join(ws.dir, dir),
  options: {},
  flags: ['-t', path.join(ws.dir, dir), '--lock-wait', '600'],
  env: {},
});

/** The name without its `_N` collision suffix: two runs that started in the same second share it. */
const baseName = (name: string) => name.replace(/_\d+(?=\.tar\.gz$)/, '');

/** One apply with its own lock directory (as on its own machine): its archive name and backup id. */
async function apply(t: TargetUnderTest, machine: string): Promise<{ name: string; backupId: string }> {
  const env = { ...t.env, XDG_CACHE_HOME: path.join(ws.dir, `cache-${machine}`), LSBACKUP_LOCK_DIR: path.join(ws.dir, `locks-${machine}`) };
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), ...t.flags, '--json'], { env, timeoutMs: 300_000 });
  expect(r.exitCode, cliOutput(r)).toBe(0);
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, string>);
  return { name: events.find((e) => e.type === 'archive.stored')!.name!, backupId: events.find((e) => e.type === 'run.start')!.backupId! };
}

/** Every archive verifies against its own .sha256, and its metadata sidecar is that run's. */
async function expectEachBelongsToItsRun(target: Target, runs: { name: string; backupId: string }[]): Promise<void> {
  const stored = (await target.list()).map((o) => o.name);
  for (const run of runs) {
    expect(stored).toContain(run.name);
    const report = await verifyBackup(target, run.name);
    expect(report.problems, run.name).toEqual([]);
    expect(report.ok).toBe(true);
    expect((await text(await target.get(`${run.name}.sha256`))).split('\n')[0]).toBe(`${report.sha256}  ${run.name}`);
    const metadata = JSON.parse(await text(await target.get(`${run.name}.metadata.json`))) as { backupId: string };
    expect(metadata.backupId, `${run.name}.metadata.json belongs to the run that wrote ${run.name}`).toBe(run.backupId);
  }
}

async function raceApplies(t: TargetUnderTest, requireSameSecond: boolean): Promise<void> {
  const runs: { name: string; backupId: string }[] = [];
  let sameSecond = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const [a, b] = await Promise.all([apply(t, 'a'), apply(t, 'b')]);
    expect(a.name, `round ${round}: both runs named their archive ${a.name}`).not.toBe(b.name);
    if (baseName(a.name) === baseName(b.name)) sameSecond++;
    runs.push(a, b);
  }
  // Without rounds that started in the same second the test would prove nothing.
  if (requireSameSecond) expect(sameSecond, 'rounds in which both runs wanted the same name').toBeGreaterThan(0);
  expect(new Set(runs.map((r) => r.name)).size).toBe(2 * ROUNDS);
  await expectEachBelongsToItsRun(await openTarget(t.uri, t.options), runs);
}

describe('two writers, separate lock directories, one cluster and prefix: 20 rounds of two applies', () => {
  it('S3 (real Swift s3api, no conditional writes there): never the same name, every archive verifies', { timeout: 1_200_000 }, async () => {
    await raceApplies(s3Target('race'), true);
  });

  it('Azure Files (stand-in): never the same name, every archive verifies', { timeout: 1_200_000 }, async () => {
    await raceApplies(azTarget('race'), true);
  });

  it('local directory: the second run waits for the directory lock; never the same name, every archive verifies', { timeout: 1_200_000 }, async () => {
    await raceApplies(localTarget('race'), false);
  });
});

/**
 * A child process that uploads `body` as NAME through a target plugin with its two sidecars,
 * says "ready", waits until the file GO exists, commits and prints the final name.
 */
const WRITER = `
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
const { openTarget } = await import(process.env.REGISTRY);
const target = await openTarget(process.env.URI, JSON.parse(process.env.OPTIONS));
const body = randomBytes(256 * 1024);
const sha = createHash('sha256').update(body).digest('hex');
const upload = await target.put(process.env.NAME, { avoidCollision: true });
await pipeline(Readable.from([body]), upload.stream);
console.log('ready');
while (!existsSync(process.env.GO)) await new Promise((r) => setTimeout(r, 5));
const stored = await upload.commit([
  { suffix: '.sha256', content: (name) => Readable.from([sha + '  ' + name + '\\n']) },
  { suffix: '.writer', content: () => Readable.from([process.env.WRITER_ID]) },
]);
console.log(JSON.stringify({ name: stored.name, sha }));
`;

async function raceCommits(t: TargetUnderTest): Promise<void> {
  const target = await openTarget(t.uri, t.options);
  const registry = path.join(repoRoot, 'dist/targets/registry.js');
  for (let round = 0; round < ROUNDS; round++) {
    const name = `lsbackup-race-20260101T0000${String(round).padStart(2, '0')}Z.tar.gz`;
    const go = path.join(ws.dir, `go-${t.uri.replace(/\W/g, '_')}-${round}`);
    const writers = ['w1', 'w2'].map((id) => {
      const child = execa('node', ['--input-type=module', '-e', WRITER], {
        env: { REGISTRY: registry, URI: t.uri, OPTIONS: JSON.stringify(t.options), NAME: name, GO: go, WRITER_ID: id },
        reject: false,
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return { id, child, out: () => out };
    });
    await waitFor(() => writers.every((w) => w.out().includes('ready') || w.child.exitCode !== null), 120_000, 'both writers to finish uploading');
    await writeFile(go, '');
    const results = await Promise.all(writers.map(async (w) => ({ w, r: await w.child })));
    for (const { r } of results) expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const stored = results.map(({ w }) => ({ id: w.id, ...(JSON.parse(w.out().trim().split('\n').pop()!) as { name: string; sha: string }) }));
    expect(stored.map((s) => s.name).sort(), `round ${round}`).toEqual([name, name.replace('.tar.gz', '_1.tar.gz')]);
    for (const s of stored) {
      const archive = createHash('sha256')
        .update(Buffer.from(await (await target.get(s.name)).toArray().then((c) => Buffer.concat(c as Buffer[]))))
        .digest('hex');
      expect(archive).toBe(s.sha);
      expect((await text(await target.get(`${s.name}.sha256`))).trim()).toBe(`${s.sha}  ${s.name}`);
      expect(await text(await target.get(`${s.name}.writer`))).toBe(s.id);
    }
  }
}

describe('two processes commit the same name at once through the target plugin: 20 rounds', () => {
  it('local directory (link() without replace)', { timeout: 600_000 }, async () => {
    await raceCommits(localTarget('commits'));
  });

  it('S3 (claim objects on real Swift s3api)', { timeout: 600_000 }, async () => {
    await raceCommits(s3Target('commits'));
  });

  it('Azure Files (rename without replace, stand-in)', { timeout: 600_000 }, async () => {
    await raceCommits(azTarget('commits'));
  });
});
