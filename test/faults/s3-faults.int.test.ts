/**
 * S3 failing in the middle of a multipart upload, through the built CLI: a small TCP proxy in
 * this test sits between lsbackup and the real Swift s3api server (test/infra/swift.ts). Any
 * connection that carries more than 1 MiB upstream (a part upload; small requests such as
 * CreateMultipartUpload and AbortMultipartUpload pass) is either cut (reset) or answered with
 * HTTP 500. After the run: exit non-zero naming the target, no object under any name, no
 * multipart upload left (ListMultipartUploads), and the SDK retried (several part attempts).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { startSwiftS3, type S3Server } from '../infra/swift.js';
import { recipeYaml, runCli, summaryRows, workspace } from '../helpers/cli.js';
import { startS3Proxy, type ProxyRule } from './s3-proxy.js';
import { stopStartSpec, waitFor } from './support.js';
import { createS3Target } from '../../targets/s3.js';

const BUCKET = 'lsbackup-faults';
const CUT_AFTER = 1024 * 1024;

let server: S3Server;
let raw: S3Client;
let ws: Awaited<ReturnType<typeof workspace>>;

interface FaultProxy {
  endpoint: string;
  /** Connections that were cut or answered 500. */
  faults: number;
  close(): Promise<void>;
}

function startProxy(upstream: URL, mode: 'reset' | '500'): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const state = { faults: 0 };
  const proxy: Server = createServer((client) => {
    const up = connect({ host: upstream.hostname, port: Number(upstream.port) });
    sockets.add(client).add(up);
    let sent = 0;
    let tripped = false;
    client.on('data', (chunk: Buffer) => {
      if (tripped) return;
      sent += chunk.length;
      if (sent > CUT_AFTER) {
        tripped = true;
        state.faults++;
        up.destroy();
        if (mode === 'reset') client.resetAndDestroy();
        else client.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => client.write(chunk));
    const done = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('error', done).on('close', done);
    up.on('error', done).on('close', () => !tripped && done());
  });
  return new Promise((resolve) => {
    proxy.listen(0, '127.0.0.1', () => {
      const { port } = proxy.address() as { port: number };
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        get faults() {
          return state.faults;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            proxy.close(() => done());
          }),
      });
    });
  });
}

beforeAll(async () => {
  server = await startSwiftS3();
  raw = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  await raw.send(new CreateBucketCommand({ Bucket: BUCKET }));
  ws = await workspace('lsb-faults-s3-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml('app', `hosts: { group: app }\ndetect: "true"\nbackup:\n  snapshot:\n    - run: head -c 12000000 /dev/urandom\n      output: big.bin\n`),
  );
}, 300_000);
afterAll(async () => {
  raw?.destroy();
  await server?.stop();
  await ws?.cleanup();
});

/** A config `targets:` entry for the bucket through `endpoint` (a proxy), 5 MiB parts one at a time. */
/** A metadata sidecar as lsbackup writes it (it is validated when read back): backup `i` of cluster c1, on 2026-01-(i+1). */
function sidecarMetadata(i: number, entries: unknown[] = []): string {
  const time = `2026-01-${String(i + 1).padStart(2, '0')}T00:00:00.000Z`;
  return JSON.stringify({
    lsbackupVersion: '0.1.0',
    format: 'lsbackup-metadata/v1',
    cluster: 'c1',
    backupId: `batch-${i}`,
    startedAt: time,
    finishedAt: time,
    status: 'success',
    inventory: { source: '/build', digest: 'sha256:' + '0'.repeat(64) },
    archive: { format: 'tar.gz' },
    hosts: [],
    components: [],
    entries,
  });
}

/** `count` backups of cluster c1 under `prefix` (archive, .sha256, metadata sidecar; January 1st on), their names oldest first. */
async function putBackups(prefix: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `lsbackup-c1-202601${String(i + 1).padStart(2, '0')}T000000Z.tar.gz`);
  for (const [i, n] of names.entries()) {
    for (const [key, body] of [
      [n, 'x'],
      [`${n}.sha256`, 'x'],
      [`${n}.metadata.json`, sidecarMetadata(i)],
    ])
      await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + key, Body: body }));
  }
  return names;
}

function s3Target(prefix: string, endpoint: string, extra: Record<string, unknown> = {}) {
  return {
    uri: `s3://${BUCKET}/${prefix}`,
    options: {
      endpoint,
      region: server.region,
      forcePathStyle: true,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      partSize: 5 * 1024 * 1024,
      queueSize: 1,
      ...extra,
    },
  };
}

describe('S3 failing mid-multipart', () => {
  for (const mode of ['reset', '500'] as const) {
    it(`${mode === 'reset' ? 'connection reset' : 'HTTP 500'} on every part: no object, no multipart upload left`, async () => {
      const proxy = await startProxy(new URL(server.endpoint), mode);
      try {
        const prefix = `run-${mode}/`;
        const config = await ws.write(
          `config-${mode}.yaml`,
          JSON.stringify({
            targets: [s3Target(prefix, proxy.endpoint)],
          }),
        );
        const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-c', config], {
          timeoutMs: 240_000,
          env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') },
        });
        expect(r.exitCode).not.toBe(0);
        expect(r.stderr).toContain(`s3://${BUCKET}/${prefix}`);
        expect(r.stderr).not.toMatch(/unexpected error/);
        expect(r.stderr).not.toContain(server.secretAccessKey);
        expect(proxy.faults).toBeGreaterThan(1); // the part was retried
        const objects = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
        expect(objects.Contents ?? []).toEqual([]);
        const uploads = await raw.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }));
        expect(uploads.Uploads ?? []).toEqual([]);
      } finally {
        await proxy.close();
      }
    }, 300_000);
  }
});

/**
 * The endpoint dying in the middle of an upload (issue 19.1): before the fix the failed
 * AbortMultipartUpload rejected a promise nobody awaited and Node killed lsbackup there and
 * then (no summary, no post-step, locks and upload left). Now: a failed run, the post-step ran,
 * the summary printed, nothing under a final name.
 */
describe('S3 endpoint lost mid-upload', () => {
  /** A recipe that "stops a service" (pre) and must "start it again" (post, always run). */
  async function setup(name: string) {
    const state = path.join(ws.dir, `state-${name}`);
    const recipes = path.dirname(await ws.write(`recipes-${name}/app.yaml`, recipeYaml('app', stopStartSpec(state, 40_000_000))));
    return { recipes, state, env: { XDG_CACHE_HOME: path.join(ws.dir, `cache-${name}`) } };
  }

  async function runAgainst(name: string, rule: ProxyRule, extraTargets: string[] = []) {
    const proxy = await startS3Proxy(server.endpoint, rule);
    try {
      const { recipes, state, env } = await setup(name);
      const prefix = `lost-${name}/`;
      const s3 = s3Target(prefix, proxy.endpoint);
      const config = await ws.write(`config-${name}.yaml`, JSON.stringify({ targets: [s3, ...extraTargets.map((uri) => ({ uri }))] }));
      const r = await runCli(['apply', recipes, '-b', path.join(ws.dir, 'build'), '-c', config], { timeoutMs: 240_000, env });
      return { r, proxy, prefix, state, env };
    } finally {
      await proxy.close();
    }
  }

  /** Nothing under a final name. A name claim the dead endpoint kept the run from releasing may stay: it expires, and cleanStale removes it then. */
  async function expectNothingStored(prefix: string) {
    const objects = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    expect((objects.Contents ?? []).filter((o) => !o.Key!.includes('/.lsbackup-claims/'))).toEqual([]);
  }

  function expectCleanFailure(r: { stdout: string; stderr: string }, state: string) {
    expect(r.stderr).not.toMatch(/unexpected error|triggerUncaughtException|ECONNREFUSED\n\s+at /);
    expect(existsSync(path.join(state, 'stopped'))).toBe(true);
    expect(existsSync(path.join(state, 'started')), 'the always-run post-step ran').toBe(true);
    // The summary table: the component's row on the one host.
    expect(
      summaryRows(r.stdout).map((row) => row.slice(0, 2)),
      r.stdout + r.stderr,
    ).toEqual([['app', 'localhost']]);
  }

  const killAfter4Parts: ProxyRule = { onPart: (n, p) => n > 4 && p.kill() };

  it('the endpoint stops after 4 parts: exit 1, post-step ran, summary printed, nothing stored, the leftover named', async () => {
    const { r, proxy, prefix, state } = await runAgainst('killed', killAfter4Parts);
    expect(proxy.parts).toBeGreaterThan(4);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expectCleanFailure(r, state);
    expect(r.stderr).toContain(`s3://${BUCKET}/${prefix}`);
    expect(r.stderr).toMatch(
      /could not abort the multipart upload of lsbackup-build-\S+\.tar\.gz .*the next run or 'lsbackup prune --leftovers' removes it.*ECONNREFUSED/,
    );
    await expectNothingStored(prefix);

    // Issue 19.3: the dead upload stays billed until someone aborts it. Another cluster's upload
    // under the same prefix is not this cluster's to remove.
    await raw.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${prefix}lsbackup-other-20260101T000000Z.tar.gz` }));
    const uploads = async () =>
      ((await raw.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }))).Uploads ?? []).map((u) => u.Key!.slice(prefix.length));
    expect((await uploads()).sort()).toEqual([expect.stringMatching(/^lsbackup-build-/), 'lsbackup-other-20260101T000000Z.tar.gz']);
    const env = { XDG_CACHE_HOME: path.join(ws.dir, 'cache-killed') };
    // Younger than the default grace (24 h): it may be a run on another machine, so kept.
    const young = await ws.write('config-young.yaml', JSON.stringify({ targets: [s3Target(prefix, server.endpoint)] }));
    const none = await runCli(['prune', '--leftovers', '-c', young], { env });
    expect(none.stdout, none.stderr).toContain('no leftovers of interrupted runs');
    // With the grace at 0 the next run of cluster 'build' aborts its own, and says so.
    const now = await ws.write('config-now.yaml', JSON.stringify({ targets: [s3Target(prefix, server.endpoint, { staleUploadHours: 0 })] }));
    const next = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-c', now], { env, timeoutMs: 240_000 });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/removed 1 leftover\(s\) of interrupted runs: lsbackup-build-\S+\.tar\.gz \(incomplete multipart upload started /);
    expect(await uploads()).toEqual(['lsbackup-other-20260101T000000Z.tar.gz']);
    // prune --leftovers lists (--dry-run) and removes the rest on request.
    const listed = await runCli(['prune', '--leftovers', '--dry-run', '-c', now], { env });
    expect(listed.stdout).toMatch(/would remove leftover: lsbackup-other-20260101T000000Z\.tar\.gz \(incomplete multipart upload/);
    expect(await uploads()).toHaveLength(1);
    const removed = await runCli(['prune', '--leftovers', '-c', now], { env });
    expect(removed.stdout).toMatch(/^removed leftover: lsbackup-other-20260101T000000Z\.tar\.gz/m);
    expect(await uploads()).toEqual([]);
  }, 600_000);

  it('get of an object whose download breaks off (deleted meanwhile): a target error, no stack, nothing written', async () => {
    const prefix = 'get-cut/';
    const name = 'lsbackup-c1-20260101T000000Z.tar.gz';
    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + name, Body: randomBytes(8 * 1024 * 1024) }));
    // lsbackup picks a broken download up where it broke (targets/support/resuming-download.ts):
    // cut every answer, resumed ones too, after 1 MiB, so that it gives up (6 MiB of 8).
    const proxy = await startS3Proxy(server.endpoint, { cutAnswerAfter: (req) => (req.method === 'GET' && req.url?.includes(name) ? 1024 * 1024 : undefined) });
    const dest = path.join(ws.dir, 'get-cut');
    await mkdir(dest, { recursive: true });
    try {
      const config = await ws.write('config-getcut.yaml', JSON.stringify({ targets: [s3Target(prefix, proxy.endpoint)] }));
      const r = await runCli(['get', name, dest, '-c', config], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache-getcut') } });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
      expect(r.stderr).toMatch(
        new RegExp(`Target s3://${BUCKET}/${prefix}: the download of ${name.replace(/\./g, '\\.')} broke off after .*deleted or replaced`),
      );
      expect(await readdir(dest)).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 300_000);

  it('verify of a backup whose download keeps breaking off: says the target, the object, how far it got and how many attempts', async () => {
    const prefix = 'verify-cut/';
    const env = { XDG_CACHE_HOME: path.join(ws.dir, 'cache-verifycut') };
    const direct = await ws.write('config-verifycut.yaml', JSON.stringify({ targets: [s3Target(prefix, server.endpoint)] }));
    const stored = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-c', direct, '-q'], { env, timeoutMs: 240_000 });
    expect(stored.exitCode, stored.stderr).toBe(0);
    const listed = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    const archive = listed.Contents!.find((o) => o.Key!.endsWith('.tar.gz'))!;
    const name = archive.Key!.slice(prefix.length);
    // Every answer for the archive, resumed ones too, breaks off after 1 MiB: 6 attempts, 6 MiB of ~12.
    const proxy = await startS3Proxy(server.endpoint, {
      cutAnswerAfter: (req) => (req.method === 'GET' && new URL(req.url!, 'http://proxy').pathname.endsWith(`/${name}`) ? 1024 * 1024 : undefined),
    });
    try {
      const config = await ws.write('config-verifycut-proxy.yaml', JSON.stringify({ targets: [s3Target(prefix, proxy.endpoint)] }));
      const r = await runCli(['verify', name, '-c', config], { env, timeoutMs: 240_000 });
      expect(r.exitCode, r.stdout + r.stderr).not.toBe(0);
      const said = `the download of ${name} from s3://${BUCKET}/${prefix} was given up after 6 attempts, at byte ${6 * 1024 * 1024} of ${archive.Size}; the last one failed with: aborted`;
      expect(r.stdout + r.stderr).toContain(`the read broke off in entry 'app/localhost/big.bin': ${said}; what follows was not checked: verify again`);
      // verify's second read, for the stored digest, is said the same way.
      expect(r.stdout).toContain(`reading it again for its stored digest broke off too: ${said}; the digest was not checked: verify again`);
    } finally {
      await proxy.close();
    }
  }, 300_000);

  it('prune deletes in DeleteObjects batches, not one request per object', async () => {
    const prefix = 'prune-batch/';
    // Prune goes by the metadata sidecar (cluster, time): an archive without one is kept.
    const names = await putBackups(prefix, 30);
    const proxy = await startS3Proxy(server.endpoint);
    try {
      const config = await ws.write('config-batch.yaml', JSON.stringify({ targets: [s3Target(prefix, proxy.endpoint)] }));
      const r = await runCli(['prune', '--keep-last', '1', '-c', config], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache-batch') } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(proxy.requests.filter((q) => q.startsWith('DELETE '))).toEqual([]);
      // Archives, then sidecars: two batches.
      expect(proxy.requests.filter((q) => /^POST \S+\?delete/.test(q))).toHaveLength(2);
    } finally {
      await proxy.close();
    }
    const left = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    expect((left.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort()).toEqual([names[29], `${names[29]}.metadata.json`, `${names[29]}.sha256`]);
  }, 300_000);

  // A store that says a listing page is truncated but gives no marker for the next one (not
  // Swift: the proxy rewrites its answers so): the listing would stop there, and retention decide
  // on part of the backups. Now list and prune fail, naming it, and nothing is deleted.
  it('a listing page marked truncated without a continuation token: list and prune fail, nothing deleted', async () => {
    const prefix = 'truncated/';
    await putBackups(prefix, 3);
    const proxy = await startS3Proxy(server.endpoint, {
      rewriteAnswer: (req) =>
        req.method === 'GET' && /[?&]list-type=2/.test(req.url ?? '')
          ? (xml) =>
              xml
                .replace(/<IsTruncated>false<\/IsTruncated>/, '<IsTruncated>true</IsTruncated>')
                .replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '')
          : undefined,
    });
    try {
      const config = await ws.write('config-truncated.yaml', JSON.stringify({ targets: [s3Target(prefix, proxy.endpoint)] }));
      const env = { XDG_CACHE_HOME: path.join(ws.dir, 'cache-truncated') };
      for (const args of [['list'], ['prune', '--keep-last', '1']]) {
        const r = await runCli([...args, '-c', config], { env });
        expect(r.exitCode, `${args[0]}: ${r.stdout}${r.stderr}`).not.toBe(0);
        expect(r.stderr).toContain('truncated but gave no marker for the next page');
        expect(r.stderr).not.toMatch(/unexpected error/);
      }
      expect(proxy.requests.filter((q) => q.startsWith('DELETE ') || /^POST \S+\?delete/.test(q))).toEqual([]);
    } finally {
      await proxy.close();
    }
    const left = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    expect(left.Contents ?? []).toHaveLength(9);
  }, 300_000);

  it('list reads a metadata sidecar only up to its entry list: 2.7 MB answered only 64 KiB deep still lists', async () => {
    const prefix = 'list-head/';
    const name = 'lsbackup-c1-20260101T000000Z.tar.gz';
    const entries = Array.from({ length: 20_000 }, (_, i) => ({ path: `app/h1/files/etc/app/conf-${i}.yaml`, size: 100 + i, sha256: 'a'.repeat(64) }));
    const sidecar = sidecarMetadata(0, entries);
    expect(sidecar.length).toBeGreaterThan(2_500_000);
    for (const [key, body] of [
      [name, 'x'],
      [`${name}.sha256`, 'x'],
      [`${name}.metadata.json`, sidecar],
    ])
      await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + key, Body: body }));
    // Every answer for the sidecar breaks off after 64 KiB: reading it whole fails (resumed 5
    // times, 64 KiB each); what list needs is in its first KiB.
    const proxy = await startS3Proxy(server.endpoint, {
      cutAnswerAfter: (req) => (req.method === 'GET' && req.url?.includes('.metadata.json') ? 64 * 1024 : undefined),
    });
    try {
      const config = await ws.write('config-list-head.yaml', JSON.stringify({ targets: [s3Target(prefix, proxy.endpoint)] }));
      const r = await runCli(['list', '--json', '-c', config], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache-list-head') } });
      expect(r.exitCode, r.stderr).toBe(0);
      const rows = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; name?: string; status?: string; metadataNote?: string });
      expect(rows.filter((row) => row.type === 'list.backup')).toEqual([expect.objectContaining({ name, status: 'success', kind: 'full' })]);
      expect(proxy.requests.filter((q) => q.startsWith('GET ') && q.includes('.metadata.json'))).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  }, 300_000);

  it('the endpoint stops after 4 parts while a local copy goes on: exit 2, the local copy kept, no crash', async () => {
    const local = path.join(ws.dir, 'local-killed');
    const { r, proxy, prefix, state } = await runAgainst('killed2', killAfter4Parts, [local]);
    expect(proxy.parts).toBeGreaterThan(4);
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expectCleanFailure(r, state);
    await expectNothingStored(prefix);
    expect((await readdir(local)).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(1);
  }, 300_000);

  it('the abort itself fails too (expired credentials): exit 2 with the local copy kept, the upload is named for later cleanup', async () => {
    const local = path.join(ws.dir, 'local-abortfail');
    const rule: ProxyRule = {
      // Part 3 fails; every AbortMultipartUpload is refused as with credentials that expired meanwhile.
      answer: (req) =>
        req.method === 'DELETE' && /[?&]uploadId=/.test(req.url ?? '')
          ? { status: 403, code: 'ExpiredToken' }
          : req.method === 'PUT' && /[?&]partNumber=3&/.test(req.url ?? '')
            ? { status: 500, code: 'InternalError' }
            : undefined,
    };
    const { r, proxy, prefix, state } = await runAgainst('abortfail', rule, [local]);
    expect(proxy.answered).toBeGreaterThan(1);
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expectCleanFailure(r, state);
    expect(r.stderr).toMatch(/could not abort the multipart upload of lsbackup-build-\S+\.tar\.gz.*ExpiredToken/);
    await expectNothingStored(prefix);
    expect((await readdir(local)).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(1);
  }, 300_000);
});

/**
 * `staleUploadHours` is about writes, not age: a run on another machine whose upload started
 * longer ago than that (a large archive) but keeps writing parts is alive, and a prune or a run
 * elsewhere must not abort it (was: judged by the upload's start alone, it was aborted and the
 * live run failed at its next part).
 */
describe('a long upload still being written on another machine', () => {
  it('is not aborted as a leftover once it is older than staleUploadHours', async () => {
    const prefix = 'long-upload/';
    // 72 s: the prune below must look within that long of the part being written; it takes a few
    // seconds even on a loaded machine (36 s left too little margin for a CLI start under load).
    const graceHours = 0.02;
    const direct = s3Target(prefix, server.endpoint);
    const live = createS3Target(direct.uri, direct.options);
    const name = 'lsbackup-build-20260101T000000Z.tar.gz';
    const upload = await live.put(name);
    const uploads = async () => (await raw.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }))).Uploads ?? [];
    const [started] = await uploads();
    await waitFor(() => Date.now() - started!.Initiated!.getTime() > graceHours * 3600_000 + 1000, 200_000, 'the upload to be older than the grace period');
    // Written to now: its first part.
    upload.stream.write(randomBytes(6 * 1024 * 1024));
    const parts = async () => (await raw.send(new ListPartsCommand({ Bucket: BUCKET, Key: started!.Key, UploadId: started!.UploadId }))).Parts?.length ?? 0;
    await waitFor(async () => (await parts()) > 0, 120_000, 'the first part');

    // Another machine (its own lock directory) cleans the leftovers of the prefix.
    const config = await ws.write(
      'config-long-upload.yaml',
      JSON.stringify({ targets: [s3Target(prefix, server.endpoint, { staleUploadHours: graceHours })] }),
    );
    const elsewhere = await runCli(['prune', '--leftovers', '-c', config], {
      env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache-elsewhere'), LSBACKUP_LOCK_DIR: path.join(ws.dir, 'locks-elsewhere') },
    });
    expect(elsewhere.exitCode, elsewhere.stderr).toBe(0);
    expect(elsewhere.stdout).toContain('no leftovers of interrupted runs');
    expect(await uploads()).toHaveLength(1);

    // The live run goes on to the end.
    upload.stream.end(randomBytes(1024));
    await finished(upload.stream);
    expect(await upload.commit()).toMatchObject({ name, size: 6 * 1024 * 1024 + 1024 });
    expect(await uploads()).toEqual([]);
  }, 300_000);
});

/**
 * A machine whose clock is off (a dead RTC battery, no NTP) still reaches S3: the SDK corrects
 * its signatures by the server's time. Its prune and runs judge leftovers by the server's
 * timestamps, so they must count on the server's clock too (was: this machine's, and with its
 * clock 3 h ahead an upload another machine had just started looked 3 h old and was aborted).
 */
describe("a machine whose clock runs ahead of the store's", () => {
  it("does not take another machine's live upload, or its name claim, for a dead run's", async () => {
    const prefix = 'clock-ahead/';
    const name = `lsbackup-build-${new Date().toISOString().replace(/[-:]|\.\d{3}/g, '')}.tar.gz`;
    // The other machine, its clock right: an upload started now, one part written.
    const direct = s3Target(prefix, server.endpoint);
    const live = createS3Target(direct.uri, direct.options);
    const upload = await live.put(name);
    upload.stream.write(randomBytes(6 * 1024 * 1024));
    const uploads = async () => (await raw.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }))).Uploads ?? [];
    const [started] = await uploads();
    const parts = async () => (await raw.send(new ListPartsCommand({ Bucket: BUCKET, Key: started!.Key, UploadId: started!.UploadId }))).Parts?.length ?? 0;
    await waitFor(async () => (await parts()) > 0, 120_000, 'the first part');

    // This machine: its clock 25 h ahead, past the default grace (24 h) and a claim's life (24 h).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + 25 * 3600_000);
      const ahead = createS3Target(direct.uri, direct.options);
      expect(await ahead.cleanStale!({})).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
    expect(await uploads()).toHaveLength(1);
    const claims = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}.lsbackup-claims/${name}/` }));
    expect(claims.KeyCount).toBe(1);

    // The live run goes on to the end.
    upload.stream.end(randomBytes(1024));
    await finished(upload.stream);
    expect(await upload.commit()).toMatchObject({ name, size: 6 * 1024 * 1024 + 1024 });
  }, 300_000);
});
