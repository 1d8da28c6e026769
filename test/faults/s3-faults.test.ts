/**
 * S3 failing in the middle of a multipart upload, through the built CLI: a small TCP proxy in
 * this test sits between lsbackup and the real Swift s3api server (test/infra/swift.ts). Any
 * connection that carries more than 1 MiB upstream (a part upload; small requests such as
 * CreateMultipartUpload and AbortMultipartUpload pass) is either cut (reset) or answered with
 * HTTP 500. After the run: exit non-zero naming the target, no object under any name, no
 * multipart upload left (ListMultipartUploads), and the SDK retried (several part attempts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { startSwiftS3, type S3Server } from '../infra/swift.js';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

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
}, 180_000);
afterAll(async () => {
  raw?.destroy();
  await server?.stop();
  await ws?.cleanup();
});

describe('S3 failing mid-multipart', () => {
  for (const mode of ['reset', '500'] as const) {
    it(`${mode === 'reset' ? 'connection reset' : 'HTTP 500'} on every part: no object, no multipart upload left`, async () => {
      const proxy = await startProxy(new URL(server.endpoint), mode);
      try {
        const prefix = `run-${mode}/`;
        const config = await ws.write(
          `config-${mode}.yaml`,
          JSON.stringify({
            targets: [
              {
                uri: `s3://${BUCKET}/${prefix}`,
                options: {
                  endpoint: proxy.endpoint,
                  region: server.region,
                  forcePathStyle: true,
                  accessKeyId: server.accessKeyId,
                  secretAccessKey: server.secretAccessKey,
                  partSize: 5 * 1024 * 1024,
                  queueSize: 1,
                },
              },
            ],
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
