/**
 * Storage targets through the CLI: `apply -t s3://…` against a REAL S3 server (OpenStack Swift's
 * s3api, test/infra/swift.ts) and `-t azfile://…` against a STAND-IN of the Azure File REST API
 * that checks SharedKey signatures (no Azure file emulator exists). Options and credentials come
 * from the config (secret references) or from flags; the catalog commands work on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ShareServiceClient, StorageSharedKeyCredential } from '@azure/storage-file-share';
import { execa } from 'execa';
import { cliOutput, cliPath, recipeYaml, runCli, workspace, jsonEvents } from '../helpers/cli.js';
import { startSwiftS3, type S3Server } from '../infra/swift.js';
import { startAzureFileStandIn, type AzureFileStandIn } from '../infra/azure-file-standin.js';

const BUCKET = 'lsb-cli';
const SHARE = 'backups';
let s3: S3Server;
let raw: S3Client;
let az: AzureFileStandIn;
let ws: Awaited<ReturnType<typeof workspace>>;
let env: Record<string, string>;

beforeAll(async () => {
  [s3, az, ws] = await Promise.all([startSwiftS3(), startAzureFileStandIn(), workspace('lsb-targets-')]);
  raw = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await raw.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await new ShareServiceClient(az.endpoint, new StorageSharedKeyCredential(az.account, az.accountKey)).getShareClient(SHARE).create();
  env = { S3_KEY: s3.accessKeyId, S3_SECRET: s3.secretAccessKey, AZ_KEY: az.accountKey };
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  // 20 MiB of random data: the archive spans several 8 MiB multipart parts.
  await ws.write('data/small.txt', 'hello\n');
  await writeFile(path.join(ws.dir, 'data/big.bin'), randomBytes(20 * 1024 * 1024));
  await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app, run: all }\nbackup:\n  collect:\n    - path: ${ws.dir}/data\n`));
  await ws.write(
    'recipes-slow/app.yaml',
    recipeYaml('app', `hosts: { group: app, run: all }\nbackup:\n  collect:\n    - path: ${ws.dir}/data\n  post:\n    - run: sleep 2\n`),
  );
}, 120_000);

afterAll(async () => {
  raw?.destroy();
  await Promise.all([s3?.stop(), az?.stop(), ws?.cleanup()]);
});

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const base = () => ['-b', path.join(ws.dir, 'build')];

async function s3Config(prefix: string, extraOptions = ''): Promise<string> {
  return ws.write(
    `${prefix}.config.yaml`,
    `recipes: [./recipes]
targets:
  - uri: s3://${BUCKET}/${prefix}
    options:
      endpoint: ${s3.endpoint}
      forcePathStyle: true
      accessKeyId: { secret: S3_KEY }
      secretAccessKey: { secret: S3_SECRET }${extraOptions}
`,
  );
}

describe('S3 target through the CLI (real Swift s3api)', () => {
  it('apply/list/verify/show with options and secret references from the config, secrets never printed', async () => {
    const config = await s3Config('cfg');
    const r = await runCli(['apply', '-c', config, ...base(), '--json'], { env });
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.exitCode).toBe(0);
    const stored = lines(r.stdout).find((e) => e.type === 'archive.stored')!;
    expect(stored.target).toBe(`s3://${BUCKET}/cfg`);
    expect(r.stdout + r.stderr).not.toContain(s3.secretAccessKey);

    const objects = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'cfg/' }));
    expect(objects.Contents?.map((o) => o.Key).sort()).toEqual([`cfg/${stored.name}`, `cfg/${stored.name}.metadata.json`, `cfg/${stored.name}.sha256`].sort());

    const list = await runCli(['list', '-c', config, '--json'], { env });
    expect(jsonEvents(list.stdout, 'list.backup')).toMatchObject([{ name: stored.name, status: 'success', components: [{ name: 'app' }] }]);
    const verify = await runCli(['verify', 'latest', '-c', config], { env });
    expect(verify.stdout).toContain(`${stored.name}: OK`);
    expect(verify.exitCode).toBe(0);
    const show = await runCli(['show', `s3://${BUCKET}/cfg/${stored.name}`, '-c', config], { env });
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toMatch(/app\s+app@1\.0\.0\s+-\s+localhost\s+success/);
  });

  it('-q on S3 prints nothing when all is well: no AWS SDK warning that Node 20 is too old for its later releases', async () => {
    const config = await s3Config('quiet');
    for (const args of [
      ['apply', '-c', config, ...base()],
      ['verify', 'latest', '-c', config],
      ['list', '-c', config],
    ]) {
      const r = await runCli([...args, '-q'], { env });
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(r.stderr, args[0]).toBe('');
    }
  });

  it('apply with flags only (--s3-endpoint, --s3-path-style, --target-secret), then prune on S3', async () => {
    const flags = [
      '-t',
      `s3://${BUCKET}/flags`,
      '--s3-endpoint',
      s3.endpoint,
      '--s3-path-style',
      '--target-secret',
      'accessKeyId=S3_KEY',
      '--target-secret',
      'secretAccessKey=S3_SECRET',
    ];
    const recipes = path.join(ws.dir, 'recipes');
    const first = await runCli(['apply', recipes, ...base(), ...flags], { env });
    expect(first.exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 1100)); // a different second, so a different name
    expect((await runCli(['apply', recipes, ...base(), ...flags], { env })).exitCode).toBe(0);
    await raw.send(new (await import('@aws-sdk/client-s3')).PutObjectCommand({ Bucket: BUCKET, Key: 'flags/README.txt', Body: 'foreign' }));

    const before = jsonEvents<{ name: string }>((await runCli(['list', ...flags, '--json'], { env })).stdout, 'list.backup');
    expect(before).toHaveLength(2);
    const pruned = await runCli(['prune', ...flags, '--keep-last', '1'], { env });
    expect(pruned.exitCode).toBe(0);
    expect(pruned.stdout).toMatch(new RegExp(`keep\\s+${before[0]!.name.replaceAll('.', '\\.')}\\s+last #1, newest successful backup`));
    const keys = (await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'flags/' }))).Contents!.map((o) => o.Key!);
    expect(keys.sort()).toEqual(['flags/README.txt', ...['', '.metadata.json', '.sha256'].map((s) => `flags/${before[0]!.name}${s}`)].sort());
  });

  it('wrong credentials: a clear target error naming the bucket, the key never printed', async () => {
    const config = await s3Config('wrong');
    const r = await runCli(['apply', '-c', config, ...base()], { env: { ...env, S3_SECRET: 'definitely-wrong-secret' } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Target s3:\/\/lsb-cli\/wrong: cannot reach bucket 'lsb-cli'/);
    // Named as `list` names it (HeadBucket's answer has no body: it said "(Unknown)").
    expect(r.stderr).toMatch(/credentials were rejected \(SignatureDoesNotMatch\)/);
    expect(r.stderr).not.toContain('definitely-wrong-secret');
  });

  it('a missing secret is a config error naming it', async () => {
    const config = await s3Config('nosecret');
    const r = await runCli(['list', '-c', config], { env: { S3_KEY: 'x' } });
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toContain("Secret 'S3_SECRET'");
  });

  it('options are checked against the plugin schema with file:line:col', async () => {
    const config = await s3Config('typo', '\n      endpiont: http://x\n      partSize: 12');
    const r = await runCli(['list', '-c', config], { env });
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/typo\.config\.yaml:9:7: unknown key 'endpiont' in 'targets\[0\]\.options' \(did you mean 'endpoint'/);
    expect(r.stderr).toMatch(/typo\.config\.yaml:10:17: 'targets\[0\]\.options\.partSize' must be >= 5242880/);
    const local = await ws.write('local-opts.config.yaml', `targets:\n  - uri: ./b\n    options: { region: x }\n`);
    // S3 takes at most 5 GiB a part (and one part is one Node buffer, at most 4 GiB).
    const huge = await s3Config('hugepart', '\n      partSize: 6000000000');
    const h = await runCli(['list', '-c', huge], { env });
    expect(h.exitCode).toBe(78);
    expect(h.stderr).toMatch(/hugepart\.config\.yaml:9:17: 'targets\[0\]\.options\.partSize' must be <= 4294967296/);
    const l = await runCli(['list', '-c', local]);
    expect(l.exitCode).toBe(78);
    expect(l.stderr).toMatch(/local-opts\.config\.yaml:3:16: unknown key 'region'/);
    const flag = await runCli(['list', '-t', '/tmp/x', '--target-option', 'region=x']);
    expect(flag.exitCode).toBe(78);
    expect(flag.stderr).toContain("unknown key 'region'");
  });

  it('-t <local dir> -t s3://… with --target-option/--target-secret: each option goes to the target that takes it', async () => {
    const local = path.join(ws.dir, 'mixed-local');
    const flags = [
      '-t',
      local,
      '-t',
      `s3://${BUCKET}/mixed`,
      '--target-option',
      `endpoint=${s3.endpoint}`,
      '--target-option',
      'forcePathStyle=true',
      '--target-option',
      'queueSize=2',
      '--target-secret',
      'accessKeyId=S3_KEY',
      '--target-secret',
      'secretAccessKey=S3_SECRET',
    ];
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), ...base(), ...flags], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const stored = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'mixed/' }));
    expect((stored.Contents ?? []).filter((o) => o.Key!.endsWith('.tar.gz'))).toHaveLength(1);
    // An option that no target given takes is still an error, naming it.
    const typo = await runCli(
      ['apply', path.join(ws.dir, 'recipes'), ...base(), '-t', local, '-t', `s3://${BUCKET}/mixed`, '--target-option', 'storageClas=X'],
      { env },
    );
    expect(typo.exitCode).toBe(78);
    expect(typo.stderr).toMatch(/unknown key 'storageClas': no target given takes it/);
  });

  it('an interrupted upload leaves no object and no multipart parts', async () => {
    const config = await s3Config('interrupted');
    // Like Ctrl-C: lsbackup lets the post-step finish, then removes the partial upload (no SIGKILL after 5 s here).
    const child = execa('node', [cliPath, 'apply', path.join(ws.dir, 'recipes-slow'), '-c', config, ...base(), '--json'], {
      env,
      reject: false,
      forceKillAfterDelay: false,
    });
    // Wait until the archive is streaming (the post-step sleeps after the data was collected).
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('"phase":"post"') && resolve()));
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toContain('Interrupted by SIGTERM');
    const objects = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'interrupted/' }));
    expect(objects.Contents ?? []).toEqual([]);
    const uploads = await raw.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'interrupted/' }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });
});

describe('Azure file share through the CLI (stand-in of the File REST API)', () => {
  it('apply, list, verify and get with --target-option endpoint and --target-secret accountKey', async () => {
    const flags = ['-t', `azfile://${az.account}/${SHARE}/prod/c1`, '--target-option', `endpoint=${az.endpoint}`, '--target-secret', 'accountKey=AZ_KEY'];
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), ...base(), ...flags, '--json', '-f', 'tar.zst'], { env });
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.exitCode).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(az.accountKey);
    const name = lines(r.stdout).find((e) => e.type === 'archive.stored')!.name as string;

    const list = jsonEvents((await runCli(['list', ...flags, '--json'], { env })).stdout, 'list.backup');
    expect(list).toMatchObject([{ name, format: 'tar.zst', status: 'success' }]);
    const verify = await runCli(['verify', name, ...flags], { env });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stdout).toContain(`${name}: OK`);
    const into = path.join(ws.dir, 'got');
    await mkdir(into);
    const get = await runCli(['get', name, into, ...flags], { env });
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdout).toContain(path.join(into, name));
    // The downloaded archive is the stored one byte for byte (as on the share), and it is whole:
    // zstd reads it to the end and the collected files come out of it unchanged.
    const downloaded = await readFile(path.join(into, name));
    expect(downloaded.equals(await readFile(path.join(az.dataDir, SHARE, 'prod/c1', name)))).toBe(true);
    const sidecar = (await readFile(path.join(az.dataDir, SHARE, 'prod/c1', `${name}.sha256`), 'utf8')).split(/\s+/)[0];
    expect(createHash('sha256').update(downloaded).digest('hex')).toBe(sidecar);
    const out = path.join(ws.dir, 'got-extracted');
    await mkdir(out);
    await execa('tar', ['--zstd', '-xf', path.join(into, name), '-C', out]);
    const big = path.join(out, 'app/localhost/files', ws.dir, 'data/big.bin');
    expect((await readFile(big)).equals(await readFile(path.join(ws.dir, 'data/big.bin')))).toBe(true);
  });
});
