/**
 * recipes/haproxy.yaml round trip through the built CLI on real sshd hosts (user lsbtest,
 * sudo to root) against two real HAProxy 2.6 processes on 127.0.0.1, one per load balancer
 * host: the Debian package layout (haproxy on the host). Their config/SSL dirs stand in for
 * /etc/haproxy and /etc/ssl/haproxy (host_vars); the reload command is HAProxy's own soft
 * reload (`-sf <old pid>`), which is what `systemctl reload haproxy` does on a Debian host.
 * LambdaStack's layout (haproxy in a runc container) is tested in haproxy-runc.int.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { LOOPBACK, isAlive, killAndWait, killAtExit, readPidFile, startHaproxy, waitUntil, type HaproxyServer } from '../infra/index.js';
import { componentOf } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';

const recipe = shippedRecipe('haproxy');

/**
 * A reload replaces the haproxy process: the old one exits and its PID may be reused (pid_max
 * is small here), so the infra's stop(), which signals the first PID, is only used while that
 * process still serves; afterwards the live PID (from the pidfile, checked to be haproxy) is
 * stopped and the test's own base dir removed.
 */
interface Proxy {
  server: HaproxyServer;
  pidFile: string;
  /** The PID serving now. */
  live: number;
}

const pidFileOf = (hp: HaproxyServer) => path.join(hp.baseDir, 'run', 'haproxy.pid');
const reloadCommand = (hp: HaproxyServer) => `haproxy -D -f ${hp.configFile} -sf $(cat ${pidFileOf(hp)}) >>${hp.logFile} 2>&1`;

async function startProxy(): Promise<Proxy> {
  const baseDir = await mkdtemp(path.join(os.tmpdir(), 'lsb-comp-haproxy-'));
  const server = await startHaproxy({ baseDir });
  return { server, pidFile: pidFileOf(server), live: server.pid };
}

async function stopProxy(proxy: Proxy): Promise<void> {
  // A failed test may leave a reload unfollowed: the pidfile names the newest process.
  const newest = await readPidFile(proxy.pidFile).catch(() => proxy.live);
  for (const pid of new Set([newest, proxy.live])) {
    if (pid === proxy.server.pid) await proxy.server.stop();
    else if (isHaproxy(pid)) await killAndWait(pid);
  }
  await rm(proxy.server.baseDir, { recursive: true, force: true });
}

function isHaproxy(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'haproxy';
  } catch {
    return false;
  }
}

/** The infra config, answering every request with `marker` (so the test sees which config serves). */
async function writeMarkedConfig(hp: HaproxyServer, marker: string): Promise<string> {
  const original = await readFile(hp.configFile, 'utf8');
  const text = original
    .replace(/\n {2}http-request return .*\n/, '\n')
    .replace('  default_backend app', `  http-request return status 200 content-type text/plain string ${marker}\n  default_backend app`);
  await writeFile(hp.configFile, text);
  return text;
}

async function reload(proxy: Proxy): Promise<void> {
  await execa('sh', ['-c', reloadCommand(proxy.server)]);
  await followReload(proxy);
}

/** After a reload (by the test or the recipe): track the new PID, let go of the old one once it is gone. */
async function followReload(proxy: Proxy): Promise<number> {
  const pid = await readPidFile(proxy.pidFile);
  if (pid === proxy.live) return pid;
  killAtExit(pid);
  const old = proxy.live;
  proxy.live = pid;
  await waitUntil('old haproxy gone after -sf', async () => !isHaproxy(old), { timeoutMs: 30_000 });
  // killAndWait of a PID with no live process only untracks it: a reused PID must never
  // get the infra's exit-time SIGKILL.
  if (!isAlive(old)) await killAndWait(old);
  return pid;
}

async function serving(hp: HaproxyServer): Promise<string> {
  // A soft reload hands the port over; give the new process a moment under load.
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://${LOOPBACK}:${hp.port}/`);
      return await res.text();
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('haproxy recipe, two load balancers', () => {
  let fleet: Fleet;
  const proxies: Proxy[] = [];
  let b: Cluster;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2 });
    for (let i = 0; i < 2; i++) proxies.push(await startProxy());
    const hostVars = (hp: HaproxyServer) => ({
      haproxy_config_dir: hp.configDir,
      haproxy_config_file: hp.configFile,
      haproxy_ssl_dir: hp.sslDir,
      haproxy_reload_command: reloadCommand(hp),
    });
    b = await createCluster({
      fleet,
      groups: { host1: ['haproxy'], host2: ['haproxy'] },
      hostVars: {
        host1: hostVars(proxies[0]!.server),
        host2: hostVars(proxies[1]!.server),
      },
    });
  });
  afterAll(async () => {
    for (const p of proxies) await stopProxy(p);
    await fleet?.stop();
    await b?.cleanup();
  });

  it('round-trips through recipe test on every load balancer: config validated, then reloaded', async () => {
    const [p1, p2] = proxies as [Proxy, Proxy];
    const v1 = [await writeMarkedConfig(p1.server, 'lb1-v1'), await writeMarkedConfig(p2.server, 'lb2-v1')];
    await reload(p1);
    await reload(p2);
    expect(await serving(p1.server)).toBe('lb1-v1');
    expect(await serving(p2.server)).toBe('lb2-v1');

    // The recipe's tests: mark config and certificates, back up, verify, remove the marks, restore, check.
    const run = await expectRoundTrip(recipe, ['-b', b.build], { env: b.env });
    const versions = run.events.filter((e) => e.type === 'component.end' && e.component === 'haproxy').map((e) => e.version);
    expect(versions[0]).toMatch(/^2\.\d+\.\d+$/);
    const collected = run.events.filter((e) => e.type === 'entry').map((e) => `${String(e.host)}:${String(e.path)}`);
    for (const [host, p] of [
      ['host1', p1],
      ['host2', p2],
    ] as const) {
      expect(collected).toContain(`${host}:haproxy/${host}/files${p.server.configFile}`);
      expect(collected).toContain(`${host}:haproxy/${host}/files${p.server.sslDir}/README`);
    }
    // Restored (with the test's mark) and reloaded: each proxy serves its backed-up config.
    expect(await readFile(p1.server.configFile, 'utf8')).toBe(`${v1[0]}# lsbackup-recipe-test\n`);
    expect(await readFile(p2.server.configFile, 'utf8')).toBe(`${v1[1]}# lsbackup-recipe-test\n`);
    await followReload(p1);
    await followReload(p2);
    expect(await serving(p1.server)).toBe('lb1-v1');
    expect(await serving(p2.server)).toBe('lb2-v1');
    // The kept copies are gone (post step).
    await expect(readFile(p1.server.configFile.replace('/haproxy/', '/haproxy.lsbackup-prev/'))).rejects.toThrow();
  });

  it('stops at haproxy -c when the backed-up config is broken: files put back, no reload', async () => {
    const [p1] = proxies as [Proxy, Proxy];
    const good = await writeMarkedConfig(p1.server, 'lb1-good');
    await reload(p1);
    expect(await serving(p1.server)).toBe('lb1-good');

    // A broken file on disk (never loaded) gets into the backup.
    await writeFile(p1.server.configFile, good.replace('frontend web', 'frontend web\n  no_such_keyword 1'));
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const component = componentOf(run.metadata!, 'haproxy');
    expect(
      component.hosts.map((h) => h.status),
      JSON.stringify(component.hosts),
    ).toEqual(['success', 'success']);
    await writeFile(p1.server.configFile, good);
    const pidBefore = p1.live;

    const r = await b.restore(run.archive!, ['--only', 'haproxy']);
    expect(r.exitCode, cliOutput(r)).not.toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/validate with haproxy -c/);
    expect(text).toMatch(/the restored configuration is invalid/);
    // The running proxy and the file on disk are as they were; reload never ran.
    expect(await serving(p1.server)).toBe('lb1-good');
    expect(await readFile(p1.server.configFile, 'utf8')).toBe(good);
    expect(await readPidFile(p1.pidFile)).toBe(pidBefore);
    // host2's backed-up config is valid: it was restored and reloaded.
    expect(await serving(proxies[1]!.server)).toMatch(/^lb2-/);
    await followReload(proxies[1]!);
  });
});

/**
 * Disaster recovery into a rebuilt cluster: new VMs with new names, to which `lscli apply` gave a
 * haproxy.cfg whose backends name the NEW cluster's servers (LambdaStack renders each backend's
 * `server` lines from the hosts of its groups). The backup's haproxy.cfg names the old cluster's
 * servers, which are gone. One HAProxy at the same paths stands in for the old VM's and then the
 * rebuilt VM's (LambdaStack lays both out alike); each cluster's backend is a real HTTP server.
 */
describe('haproxy restored into a rebuilt cluster (new load balancer names, new backend servers)', () => {
  let fleet: Fleet;
  let proxy: Proxy;
  const clusters: Cluster[] = [];
  const apps: Server[] = [];

  /** An HTTP server answering `text`, as a cluster's backend service. */
  const startApp = async (text: string): Promise<number> => {
    const app = createServer((_req, res) => res.end(text));
    apps.push(app);
    await new Promise<void>((resolve) => app.listen(0, LOOPBACK, resolve));
    return (app.address() as AddressInfo).port;
  };
  /** The infra config with its backend's server line pointing at `port` (what Ansible renders per cluster). */
  const writeConfigFor = async (port: number, name: string): Promise<string> => {
    const text = (await readFile(proxy.server.configFile, 'utf8')).replace(/\n {2}server .*\n/, `\n  server ${name} ${LOOPBACK}:${port}\n`);
    await writeFile(proxy.server.configFile, text);
    return text;
  };

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2 });
    proxy = await startProxy();
    const vars = {
      haproxy_config_dir: proxy.server.configDir,
      haproxy_config_file: proxy.server.configFile,
      haproxy_ssl_dir: proxy.server.sslDir,
      haproxy_reload_command: reloadCommand(proxy.server),
    };
    // The old cluster's load balancer is host1, the rebuilt cluster's host2.
    for (const host of ['host1', 'host2']) clusters.push(await createCluster({ fleet, groups: { [host]: ['haproxy'] }, hostVars: { [host]: vars } }));
  });
  afterAll(async () => {
    for (const app of apps) app.close();
    if (proxy) await stopProxy(proxy);
    await fleet?.stop();
    for (const c of clusters) await c.cleanup();
  });

  it("keeps the rebuilt VM's own haproxy.cfg, whose servers are the new cluster's: it serves them after the restore", async () => {
    const [old, rebuilt] = clusters as [Cluster, Cluster];
    await writeConfigFor(await startApp('old-app'), 'old-k8s-node-1');
    await reload(proxy);
    expect(await serving(proxy.server)).toBe('old-app');
    const archive = await old.backup(recipe, ['--only', 'haproxy']);

    // The old cluster is lost (its servers with it); Ansible gave the rebuilt VM its own config.
    apps[0]!.close();
    const own = await writeConfigFor(await startApp('new-app'), 'new-k8s-node-1');
    await reload(proxy);
    expect(await serving(proxy.server)).toBe('new-app');

    const r = await rebuilt.restore(archive, ['--only', 'haproxy', '--verbose']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout + r.stderr).toContain(`haproxy: the backup's haproxy.cfg names another cluster's servers (old-k8s-node-1 ${LOOPBACK}:`);
    expect(await readFile(proxy.server.configFile, 'utf8')).toBe(own);
    await followReload(proxy);
    expect(await serving(proxy.server)).toBe('new-app');
    // The rest of the backup came back.
    expect(await readFile(path.join(proxy.server.sslDir, 'README'), 'utf8')).toMatch(/placeholder/);
  });
});
