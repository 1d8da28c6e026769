/**
 * A REAL S3 server for tests: OpenStack Swift (Debian packages swift-proxy, swift-account,
 * swift-container, swift-object, memcached) with its `s3api` middleware, a tempauth user,
 * rings for one device, all in a temp dir on free ports of 127.0.0.1. Multipart uploads,
 * AbortMultipartUpload, ListMultipartUploads and signature checks are Swift's own code.
 *
 * Starting takes a few seconds: start it once per test file (beforeAll) and stop() it in
 * afterAll. Every process is a child of this one and is stopped by its PID. The temp dir is one
 * of test/infra/servers/common.ts's (prepareBaseDir): when the test process dies without stopping
 * them (killed, or its beforeAll timed out before it had a server to stop), the next test run that
 * starts a server kills every process that names the dir (memcached names it in its pid file's
 * path) and removes it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, mkdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { requireIntegrationTier } from '../helpers/tier.js';
import { prepareBaseDir, userIds } from './servers/common.js';

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: 'us-east-1';
  /** Where the servers log; worth reading when a test fails. */
  dir: string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const execFileAsync = promisify(execFile);
const ACCOUNT = 'lsb';
const USER = 'tester';

export async function startSwiftS3(): Promise<S3Server> {
  requireIntegrationTier('the Swift S3 server');
  const { baseDir: dir } = await prepareBaseDir('swift', {});
  const secret = `secret-${process.pid}-${Date.now()}`;
  const [proxyPort, accountPort, containerPort, objectPort, memcachePort] = await freePorts(5);

  const devices = join(dir, 'srv');
  mkdirSync(join(devices, 'd1'), { recursive: true });
  mkdirSync(join(dir, 'cache'));
  const { uid, gid } = userIds('swift');
  for (const p of [dir, devices, join(devices, 'd1'), join(dir, 'cache')]) chownSync(p, uid, gid);
  // memcached writes its pid file as its own user; the path puts the dir in its command line.
  const memcacheRun = join(dir, 'memcached');
  mkdirSync(memcacheRun);
  const memcache = userIds('memcache');
  chownSync(memcacheRun, memcache.uid, memcache.gid);

  writeFileSync(
    join(dir, 'swift.conf'),
    `[swift-hash]\nswift_hash_path_suffix = lsbackup-test\nswift_hash_path_prefix = lsbackup-test\n\n` + `[storage-policy:0]\nname = gold\ndefault = yes\n`,
  );
  // One ring per server type, one device each, one replica. Not execFileSync: nine Python starts on
  // a loaded machine blocked the test worker past vitest's 60 s RPC timeout ("Timeout calling onTaskUpdate").
  await Promise.all(
    (
      [
        ['account', accountPort],
        ['container', containerPort],
        ['object', objectPort],
      ] as const
    ).map(async ([ring, port]) => {
      const builder = join(dir, `${ring}.builder`);
      await execFileAsync('swift-ring-builder', [builder, 'create', '8', '1', '1']);
      await execFileAsync('swift-ring-builder', [builder, 'add', `r1z1-${HOST}:${port}/d1`, '100']);
      await execFileAsync('swift-ring-builder', [builder, 'rebalance']);
    }),
  );

  const common = (port: number) =>
    `[DEFAULT]\nbind_ip = ${HOST}\nbind_port = ${port}\nworkers = 0\nuser = swift\nswift_dir = ${dir}\n` +
    `devices = ${devices}\nmount_check = false\nlog_level = WARNING\nrecon_cache_path = ${join(dir, 'cache')}\n\n`;
  for (const [kind, port] of [
    ['account', accountPort],
    ['container', containerPort],
    ['object', objectPort],
  ] as const) {
    // As consistent as S3: an object is listed once its PUT returned. Swift's object server gives
    // up on a container update that takes over 1 s and leaves it to an updater daemon (not run
    // here), so on a loaded machine a stored object could stay out of every listing for good (an
    // incremental then saw the newest backup without its metadata sidecar). It waits up to 60 s
    // instead, as does the proxy for the object server's answer.
    const consistent = kind === 'object' ? 'conn_timeout = 20\nnode_timeout = 60\ncontainer_update_timeout = 60\n' : '';
    writeFileSync(
      join(dir, `${kind}-server.conf`),
      common(port) + `[pipeline:main]\npipeline = ${kind}-server\n\n[app:${kind}-server]\nuse = egg:swift#${kind}\n${consistent}`,
    );
  }
  // pipeline name -> egg entry point (they differ only for proxy-logging)
  const filters = ['catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging', 'listing_formats', 'copy', 'slo', 'dlo'];
  writeFileSync(
    join(dir, 'proxy-server.conf'),
    common(proxyPort) +
      `[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server\n\n` +
      `[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\nnode_timeout = 60\n\n` +
      `[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n\n` +
      `[filter:tempauth]\nuse = egg:swift#tempauth\nuser_${ACCOUNT}_${USER} = ${secret} .admin\n\n` +
      `[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = ${HOST}:${memcachePort}\n\n` +
      filters.map((f) => `[filter:${f}]\nuse = egg:swift#${f.replace('-', '_')}\n`).join('\n'),
  );

  const children: ChildProcess[] = [];
  const log = createWriteStream(join(dir, 'servers.log'));
  const launch = (cmd: string, args: string[]) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    children.push(child);
    return child;
  };
  // If the test process dies without afterAll, do not leave servers behind.
  const killAll = () => children.forEach((c) => c.pid && c.exitCode === null && process.kill(c.pid, 'SIGKILL'));
  process.once('exit', killAll);

  const stop = async () => {
    process.removeListener('exit', killAll);
    await Promise.all(children.map((c) => stopChild(c)));
    log.end();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    launch('memcached', ['-u', 'memcache', '-l', HOST, '-p', String(memcachePort), '-U', '0', '-P', join(memcacheRun, 'memcached.pid')]);
    for (const kind of ['account', 'container', 'object', 'proxy']) {
      launch(`swift-${kind}-server`, [join(dir, `${kind}-server.conf`)]);
    }
    await Promise.all([memcachePort, accountPort, containerPort, objectPort].map((p) => waitForPort(p, children)));
    await waitForHealthy(`http://${HOST}:${proxyPort}/healthcheck`, children);
  } catch (e) {
    const detail = `${(e as Error).message}; logs in ${join(dir, 'servers.log')}`;
    await Promise.all(children.map((c) => stopChild(c)));
    throw new Error(`Swift S3 did not start: ${detail}`);
  }

  return {
    endpoint: `http://${HOST}:${proxyPort}`,
    accessKeyId: `${ACCOUNT}:${USER}`,
    secretAccessKey: secret,
    region: 'us-east-1',
    dir,
    stop,
  };
}

/** Ports the kernel hands out for port 0, released before use (all taken together, so distinct). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function assertAlive(children: ChildProcess[]): void {
  const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
  if (dead) throw new Error(`${dead.spawnargs.join(' ')} exited with ${dead.exitCode ?? dead.signalCode}`);
}

async function waitUntil(what: string, children: ChildProcess[], probe: () => Promise<boolean>): Promise<void> {
  // Generous: on a loaded 2-core machine the Python servers take long to import.
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    assertAlive(children);
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function waitForPort(port: number, children: ChildProcess[]): Promise<void> {
  return waitUntil(
    `port ${port}`,
    children,
    () =>
      new Promise((resolve) => {
        const socket = connect(port, HOST);
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      }),
  );
}

function waitForHealthy(url: string, children: ChildProcess[]): Promise<void> {
  return waitUntil(url, children, async () => {
    try {
      return (await fetch(url)).ok;
    } catch {
      return false;
    }
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.exitCode === null && child.pid && process.kill(child.pid, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** An SDK client of the server itself (no proxy), for a test's own set-up and checks; destroy() it after. */
export async function s3ClientOf(server: S3Server): Promise<import('@aws-sdk/client-s3').S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
}

/** Creates `bucket` on the server (a target needs its bucket). */
export async function createBucket(server: S3Server, bucket: string): Promise<void> {
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = await s3ClientOf(server);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

/** `-t <uri>` and the flags a CLI run needs for this server; the keys as secret references to S3_KEY and S3_SECRET. */
export function s3TargetFlags(server: S3Server, uri: string): string[] {
  return [
    '-t',
    uri,
    '--s3-endpoint',
    server.endpoint,
    '--s3-path-style',
    '--target-secret',
    'accessKeyId=S3_KEY',
    '--target-secret',
    'secretAccessKey=S3_SECRET',
  ];
}
