/**
 * The whole LambdaStack-shaped cluster, end to end through the built CLI (issue 13): a build dir
 * written as `lscli apply` writes it (inventory naming the key by its path in the lscli
 * container, ansible/ansible.cfg, manifest.yml) → `lsbackup apply -b <build> -t <dir>` with no
 * --var and no host_vars → every component succeeds → the data is changed or wiped →
 * `lsbackup restore latest -b <build> -t <dir> --yes` → each component's data is as backed up.
 *
 * The hosts are sshd processes on port 22 of their own loopback address, each in a mount
 * namespace of its own laid out as LambdaStack lays a VM out (test/helpers/lambdastack-hosts.ts):
 * LambdaStack's paths, /etc/hosts with the cluster's names, `systemctl` for the services (a
 * STAND-IN: no systemd runs here). Hosts are shared the way a small LambdaStack cluster shares
 * them (kafka + zookeeper on one VM, Prometheus + Alertmanager on the monitoring VM).
 *
 * REAL: ZooKeeper 3.8, Prometheus 2.42 and Alertmanager (Debian), HAProxy in a runc container,
 * sshd, sudo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { startRuncHaproxy, type RuncHaproxy } from '../infra/servers/haproxy-runc.js';
import { httpOk, waitUntil } from '../infra/servers/common.js';
import { archivesIn, readMetadata } from '../helpers/archive.js';
import { cliOutput, cliPath, runCli, type CliResult } from '../helpers/cli.js';
import { writeLambdaStackBuild, type LambdaStackBuild } from '../helpers/lambdastack-build.js';
import { etcHosts, hostMountSetup, hostPath, inHost, serviceScript, type LambdaStackHostLayout } from '../helpers/lambdastack-hosts.js';
import { startZooKeeperService, type ZooKeeperService } from '../components/zookeeper-service.js';

const CLUSTER = 'e2e';
/** Loopback addresses 127.0.0.<FIRST_OCTET>… with sshd on port 22, as an inventory without ansible_port expects. */
const FIRST_OCTET = 60;
/** The VMs of a small LambdaStack cluster and the feature-mapping groups each is in. */
const VMS = [
  { name: `${CLUSTER}-kafka-vm-0`, groups: ['zookeeper'] },
  { name: `${CLUSTER}-monitoring-vm-0`, groups: ['prometheus'] },
  { name: `${CLUSTER}-lb-vm-0`, groups: ['haproxy'] },
] as const;
type VmName = (typeof VMS)[number]['name'];
const [KAFKA_VM, MONITORING_VM, LB_VM] = VMS.map((v) => v.name) as [VmName, VmName, VmName];
/** Every component the run must back up and restore. */
const COMPONENTS = ['host-basics', 'zookeeper', 'prometheus', 'alertmanager', 'haproxy'];

let dir: string;
let fleet: Fleet | undefined;
let build: LambdaStackBuild;
let target: string;
let env: Record<string, string>;
const pidOf: Partial<Record<VmName, number>> = {};
const servicesOf: Partial<Record<VmName, string[]>> = {};
let zk: ZooKeeperService | undefined;
let hap: RuncHaproxy | undefined;

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 900_000 });
const pid = (vm: VmName) => pidOf[vm]!;
/** A service of a host, through its systemctl (so it runs in the host's namespace). */
const systemctl = (vm: VmName, verb: string, unit: string) => inHost(pid(vm), ['/usr/local/sbin/systemctl', verb, unit]);

// ---------- the monitoring VM: Prometheus and Alertmanager as LambdaStack configures them ----------

const PROMETHEUS_URL = 'http://127.0.0.1:9090';
const ALERTMANAGER_URL = 'http://127.0.0.1:9093';

async function monitoringLayout(root: string): Promise<Partial<LambdaStackHostLayout>> {
  const units = join(root, 'units');
  await mkdir(units, { recursive: true });
  return {
    units: {
      prometheus: serviceScript(join(units, 'prometheus'), ['prometheus', '--config.file=/etc/prometheus/prometheus.yml',
        '--storage.tsdb.path=/var/lib/prometheus', `--web.listen-address=${new URL(PROMETHEUS_URL).host}`, '--web.enable-admin-api'],
      join(root, 'prometheus.log')),
      'prometheus-alertmanager': serviceScript(join(units, 'alertmanager'), ['prometheus-alertmanager', '--config.file=/etc/prometheus/alertmanager.yml',
        '--storage.path=/var/lib/prometheus/alertmanager', `--web.listen-address=${new URL(ALERTMANAGER_URL).host}`, '--cluster.listen-address='],
      join(root, 'alertmanager.log')),
    },
  };
}

async function startMonitoring(): Promise<void> {
  const vm = MONITORING_VM;
  const at = (p: string) => hostPath(pid(vm), p);
  // LambdaStack's data dir, fresh (this machine's Debian package left files in its own).
  inHost(pid(vm), ['sh', '-c', 'rm -rf /var/lib/prometheus && mkdir -p /var/lib/prometheus/alertmanager']);
  await writeFile(at('/etc/prometheus/prometheus.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: prometheus', '    static_configs:',
    `      - targets: ['${new URL(PROMETHEUS_URL).host}']`,
    'alerting:', '  alertmanagers:', '    - static_configs:', `        - targets: ['${new URL(ALERTMANAGER_URL).host}']`, '',
  ].join('\n'));
  await writeFile(at('/etc/prometheus/alertmanager.yml'), 'route:\n  receiver: default\nreceivers:\n  - name: default\n');
  systemctl(vm, 'start', 'prometheus');
  systemctl(vm, 'start', 'prometheus-alertmanager');
  servicesOf[vm] = ['prometheus', 'prometheus-alertmanager'];
  await waitUntil('prometheus ready', () => httpOk(`${PROMETHEUS_URL}/-/ready`), { timeoutMs: 120_000 });
  await waitUntil('alertmanager ready', () => httpOk(`${ALERTMANAGER_URL}/-/ready`), { timeoutMs: 120_000 });
}

/** Instant query at `time` (seconds): each series' labels and value. */
async function promQueryAt(promql: string, time: number): Promise<Record<string, string>> {
  const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(promql)}&time=${time}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  expect(body.status).toBe('success');
  return Object.fromEntries(body.data.result.map((r) => [JSON.stringify(r.metric), r.value[1]]));
}

interface Silence { id: string; comment: string; matchers: unknown[]; status: { state: string } }
const silences = async (): Promise<Silence[]> => (await (await fetch(`${ALERTMANAGER_URL}/api/v2/silences`)).json()) as Silence[];
const activeSilenceComments = async () => (await silences()).filter((s) => s.status.state === 'active').map((s) => s.comment).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-ls-e2e-'));
  await chmod(dir, 0o755);
  target = join(dir, 'backups');
  const home = join(dir, 'home');
  await mkdir(join(home, '.ssh'), { recursive: true });
  env = { HOME: home, SSH_AUTH_SOCK: '' };

  // Servers that run from this machine's side, shown on their host at LambdaStack's paths.
  const zkBase = join(dir, 'zookeeper');
  await mkdir(zkBase);
  zk = await startZooKeeperService(zkBase, { separateDataLogDir: true });
  // /opt/zookeeper/lib as LambdaStack's tarball has it (the recipe reads the version there).
  const zkLib = join(zkBase, 'lib');
  await mkdir(zkLib);
  const zkVersion = (await execa('dpkg-query', ['-W', '-f=${Version}', 'zookeeper'])).stdout.replace(/-.*/, '');
  await symlink('/usr/share/java/zookeeper.jar', join(zkLib, `zookeeper-${zkVersion}.jar`));
  hap = await startRuncHaproxy({ id: 'haproxy' });

  const layouts: Record<string, Partial<LambdaStackHostLayout>> = {
    [KAFKA_VM]: {
      binds: [['/opt/zookeeper/conf', zk.zk.configDir], ['/opt/zookeeper/lib', zkLib], ['/var/lib/zookeeper', zk.zk.dataDir], ['/var/log/zookeeper', zk.zk.dataLogDir]],
      units: { zookeeper: zk.script },
    },
    [MONITORING_VM]: await monitoringLayout(join(dir, 'monitoring')),
    [LB_VM]: {
      binds: [['/opt/runc/haproxy', hap.bundleDir], ['/run/runc', hap.stateDir], ['/etc/haproxy', hap.configDir], ['/etc/ssl/haproxy', hap.sslDir]],
      hide: ['haproxy'],
    },
  };
  const addresses = VMS.map((v, i) => ({ name: v.name, address: `127.0.0.${FIRST_OCTET + i}` }));
  const hostsFile = join(dir, 'etc-hosts');
  await writeFile(hostsFile, etcHosts(addresses));
  const setups = VMS.map((v) => hostMountSetup({ name: v.name, dir: join(dir, 'hosts', v.name), binds: [], hide: [], units: {}, ...layouts[v.name] }, hostsFile));
  fleet = await startFleet({ hosts: VMS.length, firstOctet: FIRST_OCTET, port: 22, mountSetup: (name) => setups[Number(name.replace('host', '')) - 1]! });
  VMS.forEach((v, i) => (pidOf[v.name] = fleet!.hosts[i]!.pid));

  await zk.start();
  await startMonitoring();

  build = writeLambdaStackBuild(dir, {
    cluster: CLUSTER,
    groups: Object.fromEntries(VMS.flatMap((v, i) => v.groups.map((g) => [g, [{ name: v.name, ip: addresses[i]!.address }]]))),
    adminUser: SUDO_USER,
    privateKey: fleet.clientKey,
  });
}, 600_000);

afterAll(async () => {
  for (const [vm, units] of Object.entries(servicesOf) as Array<[VmName, string[]]>) {
    for (const unit of units) {
      try {
        systemctl(vm, 'stop', unit);
      } catch {
        /* the host is gone already */
      }
    }
  }
  await zk?.stop();
  await hap?.stop();
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 300_000);

describe('a LambdaStack-shaped cluster, backed up and restored with no --var', () => {
  /** Data as it was backed up, per component, to compare after the restore. */
  const before: Record<string, unknown> = {};
  let sampleTime = 0;

  it('plan of the build dir, with no network at all, lists every component and connects nowhere', async () => {
    const r = await execa('unshare', ['-n', 'node', cliPath, 'plan', '-b', build.dir], { reject: false, stdin: 'ignore', env, timeout: 300_000 });
    const out = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    expect(out.exitCode, cliOutput(out)).toBe(0);
    for (const c of COMPONENTS) expect(out.stdout, c).toContain(`\n${c} (recipe `);
    expect(out.stdout).toContain('/var/log/zookeeper/version-2');
    expect(out.stdout).toContain('/opt/runc/haproxy/config.json');
  }, 300_000);

  it('apply -b <build dir> -t <dir> backs up every component on every host, each a success', async () => {
    // Data each component must bring back.
    await zk!.zk.zkCliBatch(['create /e2e', 'create /e2e/config "colour=blue"', 'create /e2e/leader "node-7"']);
    await waitUntil('a few self-scrapes', async () => Number(Object.values(await promQueryAt('count_over_time(up{job="prometheus"}[1m])', Date.now() / 1000))[0] ?? 0) >= 3, { timeoutMs: 120_000 });
    sampleTime = Math.floor(Date.now() / 1000) - 1;
    before.prometheus = await promQueryAt('count_over_time(up{job="prometheus"}[1m])', sampleTime);
    const now = Date.now();
    const res = await fetch(`${ALERTMANAGER_URL}/api/v2/silences`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false }], startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 86_400_000).toISOString(), createdBy: 'e2e', comment: 'maintenance window' }),
    });
    expect(res.status).toBe(200);
    before.alertmanager = await activeSilenceComments();
    const v1 = hap!.configText('v1');
    await writeFile(hap!.configFile, v1);
    await hap!.reload();
    before.haproxy = v1;

    const r = await cli(['apply', '-b', build.dir, '-t', target]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/--var/);
    const archives = await archivesIn(target);
    expect(archives).toHaveLength(1);
    const meta = await readMetadata(join(target, archives[0]!));
    expect(meta.status).toBe('success');
    const statuses = Object.fromEntries(meta.components.filter((c) => COMPONENTS.includes(c.name)).map((c) => [c.name, c.status]));
    expect(statuses).toEqual(Object.fromEntries(COMPONENTS.map((c) => [c, 'success'])));
  }, 900_000);

  it('restore latest -b <build dir> --yes brings every component back as backed up', async () => {
    // Destroy: changes after the backup, and wiped data.
    await zk!.zk.zkCliBatch(['set /e2e/config "colour=red"', 'create /e2e/late "x"', 'delete /e2e/leader']);
    systemctl(MONITORING_VM, 'stop', 'prometheus');
    inHost(pid(MONITORING_VM), ['sh', '-c', 'cd /var/lib/prometheus && find . -mindepth 1 -maxdepth 1 ! -name alertmanager -exec rm -rf {} +']);
    systemctl(MONITORING_VM, 'start', 'prometheus');
    await waitUntil('prometheus ready', () => httpOk(`${PROMETHEUS_URL}/-/ready`), { timeoutMs: 120_000 });
    expect(await promQueryAt('count_over_time(up{job="prometheus"}[1m])', sampleTime)).toEqual({});
    for (const s of await silences()) if (s.status.state === 'active') await fetch(`${ALERTMANAGER_URL}/api/v2/silence/${s.id}`, { method: 'DELETE' });
    expect(await activeSilenceComments()).toEqual([]);
    await writeFile(hap!.configFile, hap!.configText('v2'));
    await hap!.reload();

    const r = await cli(['restore', 'latest', '-b', build.dir, '-t', target, '--yes']);
    expect(r.exitCode, cliOutput(r)).toBe(0);

    // zookeeper: the znodes as backed up, later changes not replayed.
    await zk!.ready();
    expect(await zk!.znodeData('/e2e/config')).toBe('colour=blue');
    expect(await zk!.znodeData('/e2e/leader')).toBe('node-7');
    expect(await zk!.zk.zkCli(['ls', '/e2e'])).toMatch(/\[config, leader\]/);
    // prometheus: the samples of the backup are queryable again.
    await waitUntil('prometheus ready', () => httpOk(`${PROMETHEUS_URL}/-/ready`), { timeoutMs: 120_000 });
    expect(await promQueryAt('count_over_time(up{job="prometheus"}[1m])', sampleTime)).toEqual(before.prometheus);
    // alertmanager: the silence is back.
    expect(await activeSilenceComments()).toEqual(before.alertmanager);
    // haproxy: the container serves the restored configuration.
    expect(await readFile(hap!.containerPath('/etc/haproxy/haproxy.cfg'), 'utf8')).toBe(before.haproxy);
    await waitUntil("haproxy serves 'v1'", async () => (await (await fetch(`http://127.0.0.1:${hap!.port}/`)).text()) === 'v1', { timeoutMs: 120_000 });
  }, 900_000);
});
