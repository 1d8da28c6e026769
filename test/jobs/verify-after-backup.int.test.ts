/**
 * A job with `verify: true`, through the built CLI (`lsbackup run`): each stored copy is read
 * back and checked, and a damaged one fails the run, its notifications and its exit code.
 *
 * The damage is real: the target is the suite's REAL S3 server (Swift, test/infra/swift.ts)
 * reached through a small HTTP proxy that forwards every request unchanged (the SigV4 signature
 * still holds) and, once told to, flips one byte in the body of archive downloads, as a bad
 * disk or a broken link between lsbackup and the store would. The upload passes untouched, so
 * only reading the copy back can tell.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { startSwiftS3, type S3Server } from '../infra/swift.js';
import { startRecorder } from '../notify/recorder.js';

const BUCKET = 'lsb-verify-after';
let s3: S3Server;
let proxy: Awaited<ReturnType<typeof startDamagingProxy>>;

beforeAll(async () => {
  s3 = await startSwiftS3();
  const raw = s3Client();
  await raw.send(new CreateBucketCommand({ Bucket: BUCKET }));
  raw.destroy();
  proxy = await startDamagingProxy(s3.endpoint);
}, 300_000);
afterAll(async () => {
  await proxy?.close();
  await s3?.stop();
});

const s3Client = () =>
  new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });

/** Forwards to `upstream`; while `damage` is on, flips byte 200 of every archive (.tar.gz) body it returns. */
async function startDamagingProxy(upstream: string) {
  const up = new URL(upstream);
  const state = { damage: false, damagedReads: 0 };
  const server = http.createServer((req, res) => {
    const forward = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      const archiveRead = req.method === 'GET' && new URL(req.url!, 'http://proxy').pathname.endsWith('.tar.gz') && answer.statusCode! < 300;
      if (!state.damage || !archiveRead) return void answer.pipe(res);
      state.damagedReads++;
      let offset = 0;
      const flip = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          if (offset <= 200 && offset + chunk.length > 200) {
            chunk = Buffer.from(chunk);
            chunk[200 - offset]! ^= 0xff;
          }
          offset += chunk.length;
          done(null, chunk);
        },
      });
      answer.pipe(flip).pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a job with verify: true', () => {
  it('verifies each stored copy; a copy damaged in the target fails the run and its notifications, and retention spares the older backups', async () => {
    const ws = await workspace();
    const hooks = await startRecorder();
    try {
      await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
      await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: seq 1 20000\n      output: numbers.txt\n`));
      await ws.write(
        'lsbackup.config.yaml',
        `apiVersion: lsbackup/v1
kind: Config
cluster: testc
build: ./build
recipes: [./recipes]
jobs:
  nightly:
    verify: true
    retention: { keepLast: 1 }
    targets:
      - uri: s3://${BUCKET}/nightly
        options:
          endpoint: \${PROXY}
          forcePathStyle: true
          accessKeyId: { secret: S3_KEY }
          secretAccessKey: { secret: S3_SECRET }
    notifications:
      - type: ping
        url: \${HOOK}/ping/check-uuid
      - type: webhook
        url: \${HOOK}/hook
`,
      );
      const env = { PROXY: proxy.url, HOOK: hooks.url, S3_KEY: s3.accessKeyId, S3_SECRET: s3.secretAccessKey, XDG_CACHE_HOME: path.join(ws.dir, 'cache') };
      const run = (report: string) => runCli(['run', '--job', 'nightly', '--report', report], { cwd: ws.dir, env, timeoutMs: 300_000 });

      // An intact store: the copy is read back, verifies, and the run succeeds.
      const good = await run('good.json');
      expect(good.stderr).not.toMatch(/unexpected error/);
      expect(good.exitCode).toBe(0);
      const goodReport = JSON.parse(await readFile(path.join(ws.dir, 'good.json'), 'utf8'));
      expect(goodReport.targets).toEqual([expect.objectContaining({ name: goodReport.archive, verify: { ok: true } })]);
      await hooks.waitFor('/ping/check-uuid', 1);

      // The same job when what the store gives back is not what was written.
      proxy.state.damage = true;
      const bad = await run('bad.json');
      proxy.state.damage = false;
      expect(proxy.state.damagedReads).toBeGreaterThan(0);
      expect(bad.exitCode).toBe(1);
      const badReport = JSON.parse(await readFile(path.join(ws.dir, 'bad.json'), 'utf8'));
      expect(badReport.status).toBe('failed');
      expect(badReport.error).toContain(`Archive ${badReport.archive} in s3://${BUCKET}/nightly: verify after the backup FAILED`);
      expect(badReport.error).toMatch(/sha256/);
      expect(badReport.targets[0].verify.ok).toBe(false);
      expect(bad.stderr).toContain('verify after the backup FAILED');

      // Retention (keepLast: 1) left the target alone: the good backup is still there.
      const raw = s3Client();
      const listed = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'nightly/' }));
      raw.destroy();
      const archives = (listed.Contents ?? []).map((o) => path.basename(o.Key!)).filter((k) => k.endsWith('.tar.gz'));
      expect(archives.sort()).toEqual([goodReport.archive, badReport.archive].sort());
      // What it found damaged is recorded in the store (docs/incremental.md, "Damaged backups")…
      const keys = (listed.Contents ?? []).map((o) => path.basename(o.Key!));
      expect(keys, JSON.stringify(badReport.targets[0].verify)).toContain(`${badReport.archive}.damaged`);
      expect(badReport.targets[0].verify.damaged).toEqual([badReport.archive]);
      // …and a verify that reads it intact (the damage was the read's) takes the mark away again.
      const target = ['-t', `s3://${BUCKET}/nightly`, '--s3-endpoint', proxy.url, '--s3-path-style'];
      const credentials = ['--target-secret', 'accessKeyId=S3_KEY', '--target-secret', 'secretAccessKey=S3_SECRET'];
      const reverify = await runCli(['verify', badReport.archive, ...target, ...credentials], { cwd: ws.dir, env, timeoutMs: 300_000 });
      expect(reverify.exitCode, reverify.stdout + reverify.stderr).toBe(0);
      expect(reverify.stdout).toContain(`intact         ${badReport.archive}: found damaged before`);
      const again = s3Client();
      const after = await again.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'nightly/' }));
      again.destroy();
      expect((after.Contents ?? []).map((o) => path.basename(o.Key!))).not.toContain(`${badReport.archive}.damaged`);

      // The failure went out as a failure: healthchecks /fail, the webhook's 'failure' event.
      const [fail] = await hooks.waitFor('/ping/check-uuid/fail', 1);
      // healthchecks shows the body: the outcome, then the tail of the run's log (what led up to it).
      expect(fail!.body).toMatch(/^lsbackup job nightly: failed -> lsbackup-testc-\S+\.tar\.gz: Archive /);
      expect(fail!.body).toContain("last lines of the run's log:\n");
      expect(fail!.body).toMatch(/app @ localhost: success/);
      expect(fail!.body).toMatch(/warning: Archive \S+ in s3:\/\/lsb-verify-after\/nightly: verify after the backup FAILED/);
      const hookBodies = (await hooks.waitFor('/hook', 4)).map((h) => JSON.parse(h.body));
      expect(hookBodies.map((b) => b.event)).toEqual(['start', 'success', 'start', 'failure']);
      expect(hookBodies[3].error).toContain('verify after the backup FAILED');
    } finally {
      await hooks.close();
      await ws.cleanup();
    }
  }, 600_000);
});
