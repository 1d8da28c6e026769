/**
 * A real network cut: two SSH hosts, each in its own network namespace behind a bridge
 * (test/fleet/netns.ts), backed up through the BUILT CLI. Host 2's link is taken down
 * (`ip link set <veth> down`: no FIN, no RST, its packets just stop) while a large file of
 * host 2 is streaming into the archive, and, separately, before lsbackup connects.
 *
 * Nothing is a stand-in: real sshd, real kernel networking; host 2's sending rate is shaped
 * with tc (a real qdisc) only so the transfer lasts long enough to be cut in the middle.
 * The inventory sets ServerAliveInterval/ServerAliveCountMax/ConnectTimeout in
 * ansible_ssh_extra_args, as an operator would; those, not a step timeout, must end the run.
 */
import { optedOut } from '../helpers/prerequisites.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { netnsUnavailable, startNetnsFleet, type NetnsFleet } from '../fleet/netns.js';
import { recipeYaml, runCli, spawnCli, workspace } from '../helpers/cli.js';
import { waitFor } from './support.js';

const KEEPALIVE_S = 2;
const KEEPALIVE_COUNT = 2;
const CONNECT_TIMEOUT_S = 4;
const SMALL_BYTES = 1024 * 1024;
const BIG_BYTES = 24 * 1024 * 1024;

// Namespaces are required (root, iproute2): without them the tests fail, unless opted out.
const optOut = optedOut('netns', 'The network cut (test/faults/network-cut.int.test.ts)');

let fleet: NetnsFleet;
let ws: Awaited<ReturnType<typeof workspace>>;

describe.skipIf(optOut)('a network cut (real network namespaces)', () => {
  beforeAll(async () => {
    const unavailable = netnsUnavailable();
    if (unavailable) throw new Error(`this test needs network namespaces (root, iproute2; or LSB_TESTS_WITHOUT=netns to leave it out): ${unavailable}`);
    fleet = await startNetnsFleet({ hosts: 2 });
    ws = await workspace('lsb-faults-netcut-');
    // Namespaces share the filesystem: each host gets its own data and state dirs (host_vars).
    await execa('sh', [
      '-c',
      `set -e; cd '${ws.dir}'
       mkdir -p host1/data host2/data host1/state host2/state
       head -c ${SMALL_BYTES} /dev/urandom > host1/data/small.bin; echo hello > host1/data/hello.txt
       head -c ${BIG_BYTES} /dev/urandom > host2/data/big.bin
       chmod -R a+rX . && chmod 0777 host1/state host2/state`,
    ]);
    // ~16 Mbit/s: the big file takes ~12 s, so the cut lands in its middle.
    fleet.throttle(1, '16mbit');
  }, 120_000);
  afterAll(async () => {
    await fleet?.teardown();
    await ws?.cleanup();
  });

  it('host 2 cut mid-collect: bounded end, partial archive (exit 2), host 1 complete and verified, post ran on host 1', async () => {
    const { build, recipes, target, env } = await setup('mid');
    const child = spawnCli(['apply', recipes, '-b', build, '-t', target], { env });
    let cutAt = 0;
    try {
      // Host 1 holds ~1 MiB: once the partial archive passes 3 MiB, host 2's file is flowing.
      await waitFor(async () => (await tempSize(target)) > SMALL_BYTES * 3, 120_000, "host 2's file to stream into the archive");
      fleet.cut(1);
      cutAt = Date.now();
      const r = await child;
      const afterCut = (Date.now() - cutAt) / 1000;
      const stderr = String(r.stderr);
      // Keepalives (2 s x 2) notice the dead link, then post on host 2 fails to reconnect (4 s).
      // Generous bound for a loaded machine; without keepalives it would wait for the 3600 s step timeout.
      expect(afterCut).toBeLessThan(45);
      expect(r.exitCode, stderr).toBe(2);
      await expectHost2FailedOnce(stderr);
      // The cause says what happened: the keepalives, not some later symptom.
      const where = `${fleet.hosts[1]!.address}:${fleet.hosts[1]!.port}`.replace(/\./g, '\\.');
      expect(stderr).toMatch(new RegExp(`host2.*collect.*no answer from ${where} to ${KEEPALIVE_COUNT} keepalives .*network cut or host down`));
      await expectArchive(target, { host2Started: true });
      expect(existsSync(path.join(ws.dir, 'host1/state/started-mid')), 'post ran on host 1').toBe(true);
      console.log(`network cut mid-collect: run ended ${afterCut.toFixed(1)} s after the cut`);
    } finally {
      child.kill('SIGKILL'); // a no-op once it has exited
      fleet.restore(1);
    }
  }, 180_000);

  it('host 2 cut before connecting: it fails within the connect timeout, host 1 is backed up', async () => {
    const { build, recipes, target, env } = await setup('before');
    fleet.cut(1);
    try {
      const started = Date.now();
      const r = await runCli(['apply', recipes, '-b', build, '-t', target], { env, timeoutMs: 120_000 });
      const took = (Date.now() - started) / 1000;
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(`host2.*timed out after ${CONNECT_TIMEOUT_S} s connecting to ${fleet.hosts[1]!.address.replace(/\./g, '\\.')}:${fleet.hosts[1]!.port}`),
      );
      await expectHost2FailedOnce(r.stderr);
      // The connect attempt is bounded by ConnectTimeout; the whole run by a few of them.
      expect(took).toBeLessThan(45);
      await expectArchive(target, { host2Started: false });
      expect(existsSync(path.join(ws.dir, 'host1/state/started-before')), 'post ran on host 1').toBe(true);
      console.log(`network cut before connecting: run took ${took.toFixed(1)} s`);
    } finally {
      fleet.restore(1);
    }
  }, 180_000);
});

/** Inventory (with per-host dirs and the keepalive settings), recipe and target for one case. */
async function setup(name: string) {
  const build = path.join(ws.dir, `build-${name}`);
  fleet.writeInventory(build, { host1: ['app'], host2: ['app'] });
  for (const host of ['host1', 'host2']) {
    await ws.write(`build-${name}/host_vars/${host}.yml`, `data_dir: ${ws.dir}/${host}/data\nstate_dir: ${ws.dir}/${host}/state\n`);
  }
  await ws.write(
    `build-${name}/group_vars/all.yml`,
    `ansible_ssh_extra_args: "-o ServerAliveInterval=${KEEPALIVE_S} -o ServerAliveCountMax=${KEEPALIVE_COUNT} -o ConnectTimeout=${CONNECT_TIMEOUT_S}"\n`,
  );
  const spec = [
    'hosts: { group: app }',
    'vars: { data_dir: /nonexistent, state_dir: /nonexistent }',
    'detect: "true"',
    'backup:',
    '  pre:',
    `    - run: touch {{vars.state_dir}}/stopped-${name}`,
    '  collect:',
    '    - path: "{{vars.data_dir}}"',
    '  post:',
    `    - run: touch {{vars.state_dir}}/started-${name}`,
    '',
  ].join('\n');
  const recipes = path.dirname(await ws.write(`recipes-${name}/app.yaml`, recipeYaml('app', spec)));
  return { build, recipes, target: path.join(ws.dir, `backups-${name}`), env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } };
}

async function tempSize(target: string): Promise<number> {
  const temps = (await readdir(target).catch(() => [] as string[])).filter((n) => n.startsWith('.lsbackup-tmp-'));
  const sizes = await Promise.all(
    temps.map((n) =>
      stat(path.join(target, n)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return Math.max(0, ...sizes);
}

/** Host 2 is reported failed with a one-line cause that names it; host 1 is not. */
async function expectHost2FailedOnce(stderr: string): Promise<void> {
  expect(stderr).not.toMatch(/unexpected error/i);
  const lines = stderr.split('\n').filter((l) => /host2/.test(l) && /fail|error|timed out|lost|cut/i.test(l));
  expect(lines.length, stderr).toBeGreaterThan(0);
  expect(stderr).not.toMatch(/host1.*(fail|error)/i);
}

/**
 * One archive under a final name, no temp file; `lsbackup verify` finds no sha256/size problem
 * (at most host 2's cut entry, recorded as stored incomplete); host 1's files are all there,
 * byte for byte; metadata says partial, host 1 success, host 2 failed.
 */
async function expectArchive(target: string, o: { host2Started: boolean }): Promise<void> {
  const names = (await readdir(target)).filter((n) => !n.startsWith('.lsbackup.lock'));
  expect(
    names.filter((n) => n.startsWith('.lsbackup-tmp-')),
    'temp files left',
  ).toEqual([]);
  const archives = names.filter((n) => /\.tar\.(gz|zst)$|\.zip$/.test(n));
  expect(archives).toHaveLength(1);
  const archive = path.join(target, archives[0]!);

  const verify = await runCli(['verify', archive], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
  const problems = `${verify.stdout}\n${verify.stderr}`;
  expect(problems).not.toMatch(/is corrupt: its sha256|bytes, metadata\.json says|damaged|not listed|but missing from the archive/);

  const extracted = path.join(ws.dir, `x-${path.basename(target)}`);
  await execa('sh', ['-c', `mkdir -p '${extracted}' && tar -xzf '${archive}' -C '${extracted}'`]);
  const metadata = JSON.parse(await readFile(path.join(extracted, 'metadata.json'), 'utf8')) as {
    status: string;
    components: { hosts: { name: string; status: string; error?: string }[] }[];
    entries: { path: string; type: string; size: number; sha256?: string; error?: string }[];
  };
  expect(metadata.status).toBe('partial');
  const hosts = Object.fromEntries(metadata.components[0]!.hosts.map((h) => [h.name, h]));
  expect(hosts.host1?.status).toBe('success');
  expect(hosts.host2?.status).toBe('failed');
  expect(hosts.host2?.error).toBeTruthy();
  expect(hosts.host2!.error!.split('\n')).toHaveLength(1);

  // Every file entry re-hashed from the extracted tree matches metadata.json.
  for (const e of metadata.entries.filter((x) => x.type === 'file')) {
    const file = path.join(extracted, e.path);
    const { stdout } = await execa('sha256sum', [file]);
    expect(stdout.split(' ')[0], e.path).toBe(e.sha256);
    if (e.path.includes('/host2/')) expect(e.error, `${e.path} from the cut host must be marked incomplete`).toBeTruthy();
  }
  // No entry of host 2 passes for good data: if the big file is there, it is marked incomplete.
  const host2Entries = metadata.entries.filter((x) => x.path.includes('/host2/') && x.type === 'file');
  if (!o.host2Started) expect(host2Entries).toEqual([]);
  expect(host2Entries.every((x) => x.error)).toBe(true);
  if (host2Entries.length > 0) expect(verify.exitCode, 'verify flags the incomplete entry').toBe(1);
  expect(
    problems
      .split('\n')
      .filter((l) => /stored incomplete/.test(l))
      .every((l) => l.includes('/host2/')),
  ).toBe(true);

  // Host 1's data complete, byte for byte.
  for (const file of ['small.bin', 'hello.txt']) {
    const entry = metadata.entries.find((x) => x.path.endsWith(`/host1/files${ws.dir}/host1/data/${file}`));
    expect(entry, `host1 ${file} in the archive`).toBeTruthy();
    expect(entry!.error).toBeUndefined();
    const original = await execa('sha256sum', [path.join(ws.dir, 'host1/data', file)]);
    expect(entry!.sha256).toBe(original.stdout.split(' ')[0]);
  }
}
