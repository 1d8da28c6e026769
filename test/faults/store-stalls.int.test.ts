/**
 * A store that stops answering (a path that drops packets, a wedged server) must fail the run,
 * not hold it and the locks it holds forever: a scheduled job that never ends keeps every later
 * run of its cluster waiting. Through the built CLI, with an HTTP proxy (./s3-proxy.ts) in front
 * of the real Swift s3api server (test/infra/swift.ts) and of the Azure Files stand-in (no
 * emulator implements Azure Files): it takes chosen requests and never answers them, or stops
 * partway through an answer. And the other side: a download lsbackup itself pauses for longer
 * than the limit is not a stall.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { createBucket, s3ClientOf, startSwiftS3, type S3Server } from '../infra/swift.js';
import { shareOf, startAzureFileStandIn, type AzureFileStandIn } from '../infra/azure-file-standin.js';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { startS3Proxy, type ProxyRule, type S3Proxy } from './s3-proxy.js';
import { stopStartSpec } from './support.js';
import { createS3Target } from '../../targets/s3.js';
import { createAzureFileTarget } from '../../targets/azure-file.js';
import type { Target } from '../../targets/types.js';

const BUCKET = 'lsbackup-stalls';
const SHARE = 'stalls';
/** Short, so a stall ends the test quickly; long enough that a healthy request on a busy machine does not hit it. */
const IDLE_SECONDS = 3;

let s3: S3Server;
let az: AzureFileStandIn;
let ws: Awaited<ReturnType<typeof workspace>>;
const proxies: S3Proxy[] = [];

beforeAll(async () => {
  [s3, az, ws] = await Promise.all([startSwiftS3(), startAzureFileStandIn(), workspace('lsb-stalls-')]);
  await createBucket(s3, BUCKET);
  await (await shareOf(az, SHARE)).create();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
}, 300_000);
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await s3?.stop();
  await az?.stop();
  await ws?.cleanup();
});

async function proxyTo(upstream: string, rule: ProxyRule): Promise<S3Proxy> {
  const proxy = await startS3Proxy(upstream, rule);
  proxies.push(proxy);
  return proxy;
}

const stores = {
  s3: {
    uri: (dir: string) => `s3://${BUCKET}/${dir}`,
    options: (endpoint: string) => ({
      endpoint,
      region: s3.region,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      partSize: 5 * 1024 * 1024,
      queueSize: 1,
      idleTimeout: IDLE_SECONDS,
    }),
    upstream: () => s3.endpoint,
    isDataUpload: (req: { method?: string; url?: string }) => req.method === 'PUT' && /[?&]partNumber=/.test(req.url ?? ''),
    async put(dir: string, name: string, bytes: Buffer) {
      const raw = await s3ClientOf(s3);
      await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${dir}/${name}`, Body: bytes }));
      raw.destroy();
    },
    async remove(dir: string, name: string) {
      const raw = await s3ClientOf(s3);
      await raw.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${dir}/${name}` }));
      raw.destroy();
    },
    async stored(dir: string) {
      const raw = await s3ClientOf(s3);
      const page = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${dir}/` }));
      raw.destroy();
      return (page.Contents ?? []).map((o) => o.Key!.slice(dir.length + 1)).filter((k) => !k.startsWith('.lsbackup-claims/'));
    },
    target: (dir: string, endpoint: string): Target => createS3Target(stores.s3.uri(dir), stores.s3.options(endpoint)),
  },
  azfile: {
    uri: (dir: string) => `azfile://${az.account}/${SHARE}/${dir}`,
    // The stand-in's endpoint names the account in its path; a proxy's is the host alone.
    options: (endpoint: string) => ({ endpoint: endpoint + new URL(az.endpoint).pathname, accountKey: az.accountKey, idleTimeout: IDLE_SECONDS }),
    upstream: () => new URL(az.endpoint).origin,
    isDataUpload: (req: { method?: string; url?: string }) => req.method === 'PUT' && /[?&]comp=range/.test(req.url ?? ''),
    async put(dir: string, name: string, bytes: Buffer) {
      const directory = (await shareOf(az, SHARE)).getDirectoryClient(dir);
      await directory.createIfNotExists();
      await directory.getFileClient(name).uploadData(bytes);
    },
    async remove(dir: string, name: string) {
      await (await shareOf(az, SHARE)).getDirectoryClient(dir).getFileClient(name).delete();
    },
    async stored(dir: string) {
      return (await readdir(path.join(az.dataDir, SHARE, dir)).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    },
    target: (dir: string, endpoint: string): Target => createAzureFileTarget(stores.azfile.uri(dir), stores.azfile.options(endpoint)),
  },
} as const;

describe.each(['s3', 'azfile'] as const)('a %s store that stops answering', (kind) => {
  const store = stores[kind];

  it('while taking the archive: the run fails naming the limit, the always-run post-step ran, nothing stored', async () => {
    const dir = `${kind}-upload`;
    const proxy = await proxyTo(store.upstream(), { hold: (req) => store.isDataUpload(req) });
    const state = path.join(ws.dir, `state-${kind}`);
    const recipes = path.dirname(await ws.write(`recipes-${kind}/app.yaml`, recipeYaml('app', stopStartSpec(state, 12_000_000))));
    const config = await ws.write(`config-${kind}.yaml`, JSON.stringify({ targets: [{ uri: store.uri(dir), options: store.options(proxy.endpoint) }] }));
    const r = await runCli(['apply', recipes, '-b', path.join(ws.dir, 'build'), '-c', config], {
      timeoutMs: 400_000,
      env: { XDG_CACHE_HOME: path.join(ws.dir, `cache-${kind}`) },
    });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toContain(`the store sent or took nothing for ${IDLE_SECONDS} s (the target's idleTimeout option)`);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(proxy.held, 'the held upload was retried before the run gave up').toBeGreaterThan(1);
    expect(existsSync(path.join(state, 'started')), 'the always-run post-step ran').toBe(true);
    expect(await store.stored(dir)).toEqual([]);
  }, 600_000);

  it('partway through every answer of a download: `get` fails saying the download stalled, nothing written', async () => {
    const dir = `${kind}-download`;
    const name = 'lsbackup-c1-20260101T000000Z.tar.gz';
    await store.put(dir, name, randomBytes(6 * 1024 * 1024));
    const proxy = await proxyTo(store.upstream(), {
      // Every answer, resumed ones too (S3 resumes a broken download: its retries get 512 KiB each, less than the whole).
      stallAnswerAfter: (req) => (req.method === 'GET' && req.url?.includes(name) ? 512 * 1024 : undefined),
    });
    const config = await ws.write(`config-get-${kind}.yaml`, JSON.stringify({ targets: [{ uri: store.uri(dir), options: store.options(proxy.endpoint) }] }));
    const dest = path.join(ws.dir, `get-${kind}`);
    await mkdir(dest, { recursive: true });
    const r = await runCli(['get', name, dest, '-c', config], { timeoutMs: 300_000, env: { XDG_CACHE_HOME: path.join(ws.dir, `cache-get-${kind}`) } });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toContain(`reading ${name}: the download stalled, nothing came for ${IDLE_SECONDS} s (the target's idleTimeout option)`);
    expect(await readdir(dest)).toEqual([]);
  }, 600_000);

  it('a download lsbackup pauses for longer than the limit is not a stall: every byte arrives', async () => {
    const dir = `${kind}-paused`;
    const name = 'lsbackup-c1-20260102T000000Z.tar.gz';
    const bytes = randomBytes(8 * 1024 * 1024);
    await store.put(dir, name, bytes);
    const body: Readable = await store.target(dir, store.upstream()).get(name);
    const hash = createHash('sha256');
    let paused = false;
    for await (const chunk of body) {
      hash.update(chunk as Buffer);
      if (!paused) {
        paused = true;
        await sleep(IDLE_SECONDS * 2 * 1000); // the reader is busy (a restore applying a component)
      }
    }
    expect(hash.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
  }, 300_000);
});

describe.each(['s3', 'azfile'] as const)('a %s download that breaks off is picked up at the next byte of the same object', (kind) => {
  const store = stores[kind];
  const name = 'lsbackup-c1-20260103T000000Z.tar.gz';
  const firstAnswerOnly = (req: { method?: string; url?: string; headers: Record<string, unknown> }) =>
    req.method === 'GET' && req.url?.includes(name) && req.headers.range === undefined && req.headers['x-ms-range'] === undefined;
  const getsOf = (proxy: S3Proxy) => proxy.requests.filter((r) => r.startsWith('GET ') && r.includes(name)).length;
  const after1MiB = (req: Parameters<typeof firstAnswerOnly>[0]) => (firstAnswerOnly(req) ? 1024 * 1024 : undefined);

  it.each([
    ['cut (a connection reset)', { cutAnswerAfter: after1MiB }],
    ['stalled (a connection a NAT dropped while lsbackup paused it)', { stallAnswerAfter: after1MiB }],
  ] as const)(
    '%s after 1 MiB: `get` stores every byte, exit 0',
    async (label, rule) => {
      const dir = `${kind}-resume-${label.split(' ')[0]}`;
      const bytes = randomBytes(6 * 1024 * 1024);
      await store.put(dir, name, bytes);
      const proxy = await proxyTo(store.upstream(), rule);
      const config = await ws.write(`config-${dir}.yaml`, JSON.stringify({ targets: [{ uri: store.uri(dir), options: store.options(proxy.endpoint) }] }));
      const dest = path.join(ws.dir, dir);
      await mkdir(dest, { recursive: true });
      const r = await runCli(['get', name, dest, '-c', config], { timeoutMs: 300_000, env: { XDG_CACHE_HOME: path.join(ws.dir, `cache-${dir}`) } });
      expect(r.exitCode, cliOutput(r)).toBe(0);
      const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(sha256(await readFile(path.join(dest, name)))).toBe(sha256(bytes));
      expect(getsOf(proxy), 'the whole object, then the rest of it').toBe(2);
    },
    300_000,
  );

  it.each(['replaced', 'deleted'] as const)(
    '%s meanwhile: a clear error, never the rest of another object',
    async (change) => {
      const dir = `${kind}-resume-${change}`;
      await store.put(dir, name, randomBytes(6 * 1024 * 1024));
      const proxy = await proxyTo(store.upstream(), { cutAnswerAfter: after1MiB });
      const body = await store.target(dir, proxy.endpoint).get(name);
      // The object changes before the break is noticed (the first MiB is still to be read).
      if (change === 'replaced') await store.put(dir, name, randomBytes(6 * 1024 * 1024));
      else await store.remove(dir, name);
      let received = 0;
      const reading = (async () => {
        for await (const chunk of body) received += (chunk as Buffer).length;
      })();
      await expect(reading).rejects.toThrow(new RegExp(`${name.replace(/\./g, '\\.')} was deleted or replaced while it was being read \\(after \\d+ bytes\\)`));
      expect(received).toBeLessThanOrEqual(1024 * 1024);
      expect(getsOf(proxy)).toBe(2);
    },
    300_000,
  );
});

describe('an S3 completion whose answer is lost', () => {
  it('is retried, finds the upload gone, and knows the object by its parts: exit 0, the backup verifies', async () => {
    const dir = 's3-lost-completion';
    let archiveCompletions = 0;
    const isArchiveCompletion = (req: { method?: string; url?: string }) => req.method === 'POST' && /\.tar\.gz\?uploadId=/.test(req.url ?? '');
    const proxy = await proxyTo(s3.endpoint, {
      // The store completes the archive's upload; its answer (headers sent, body never) is lost.
      stallAnswerAfter: (req) => (isArchiveCompletion(req) && archiveCompletions === 1 ? 0 : undefined),
      // The SDK's retry then gets what AWS answers for an upload completed meanwhile ("the upload
      // ID might be invalid, or the multipart upload might have been aborted or completed"). Swift
      // completes it again instead, so the proxy answers the retry as AWS does.
      answer: (req) => (isArchiveCompletion(req) && ++archiveCompletions > 1 ? { status: 404, code: 'NoSuchUpload' } : undefined),
    });
    const recipes = path.dirname(
      await ws.write('recipes-lost-completion/app.yaml', recipeYaml('app', stopStartSpec(path.join(ws.dir, 'state-lost'), 12_000_000))),
    );
    const config = (endpoint: string) => JSON.stringify({ targets: [{ uri: stores.s3.uri(dir), options: stores.s3.options(endpoint) }] });
    const env = { XDG_CACHE_HOME: path.join(ws.dir, 'cache-lost-completion') };
    const r = await runCli(['apply', recipes, '-b', path.join(ws.dir, 'build'), '-c', await ws.write('config-lost.yaml', config(proxy.endpoint))], {
      timeoutMs: 300_000,
      env,
    });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(archiveCompletions, 'the completion was sent again after its answer was lost').toBe(2);
    const verified = await runCli(['verify', 'latest', '-c', await ws.write('config-lost-direct.yaml', config(s3.endpoint))], { env });
    expect(verified.exitCode, cliOutput(verified)).toBe(0);
  }, 300_000);
});
