/**
 * recipes/prometheus.yaml round trips against a REAL Prometheus 2.42, over SSH (fleet host
 * host1, user lsbtest with sudo), run as a service the recipe stops and starts (service-script.ts):
 * series exist → backup → stop, wipe the data dir → restore → start → the same samples are
 * queryable at a time inside the backed-up range; and the recipe's own tests: section through
 * `lsbackup recipe test` (a backfilled marker sample, deleted through the admin API, back). A
 * restored configuration promtool refuses is replaced by the previous one before the start; a
 * rebuilt cluster's VM (host2, other file_sd targets) keeps its own configuration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { httpOk, prometheusArgs, runChecked, startPrometheus, waitUntil, type PrometheusServer } from '../infra/index.js';
import { archiveEntries, archiveEntry, readMetadata } from '../helpers/archive.js';
import { cliOutput, stepEnd, succeeded } from '../helpers/cli.js';
import { backupWithUnreadEdit } from '../helpers/config-edit.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';
import { writeServiceScript, type ServiceScript } from './service-script.js';

const recipe = shippedRecipe('prometheus');
let fleet: Fleet;
let cluster: Cluster;
let baseDir: string;
/** The server as the infra configured it (port, config, data dir); the service runs it from then on. */
let prom: PrometheusServer;
let service: ServiceScript | undefined;

/** The host vars that point the recipe at the test's server and service. */
const serviceVars = () => ({
  prometheus_url: prom.url,
  prometheus_data_dir: prom.dataDir,
  prometheus_config_dir: prom.configDir,
  prometheus_stop_command: `${service!.script} stop`,
  prometheus_start_command: `${service!.script} start`,
});

const startService = async () => {
  await runChecked(service!.script, ['start']);
  await waitUntil('prometheus service', () => httpOk(`${prom.url}/-/ready`), { timeoutMs: 120_000, logFile: prom.logFile });
};

beforeAll(async () => {
  // host2 is the rebuilt cluster's VM (the last test).
  fleet = await startFleet({ hosts: 2 });
  cluster = await createCluster({ fleet, groups: { host1: ['prometheus'] } });
  baseDir = await mkdtemp(join(tmpdir(), 'lsb-prom-base-'));
  prom = await startPrometheus({ baseDir });
  await prom.stop();
  service = await writeServiceScript({
    dir: baseDir,
    command: ['prometheus', ...prometheusArgs(prom.configFile, prom.dataDir, prom.port)],
    identity: prom.configFile,
    logFile: prom.logFile,
  });
  await startService();
  await cluster.hostVars('host1', serviceVars());
}, 300_000);
afterAll(async () => {
  await service?.stop();
  await fleet?.stop();
  await cluster?.cleanup();
  if (baseDir) await rm(baseDir, { recursive: true, force: true });
});

/** Instant query at `time` (seconds): each series' labels and value. */
async function queryAt(p: PrometheusServer, promql: string, time: number): Promise<Record<string, string>> {
  const res = await fetch(`${p.url}/api/v1/query?query=${encodeURIComponent(promql)}&time=${time}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  expect(body.status).toBe('success');
  return Object.fromEntries(body.data.result.map((r) => [JSON.stringify(r.metric), r.value[1]]));
}

describe('prometheus recipe (real Prometheus, over SSH)', () => {
  it('restores the TSDB from an admin-API snapshot so old samples are queryable again', async () => {
    await waitUntil('a few self-scrapes', async () => Number((await prom.query('count_over_time(up{job="prometheus"}[1m])'))[0]?.value[1] ?? 0) >= 5, {
      timeoutMs: 60_000,
    });
    // A moment inside the backed-up range; the restarted server's own scrapes all come later.
    const t = Math.floor(Date.now() / 1000) - 1;
    const probe = 'count_over_time(up{job="prometheus"}[1m])';
    const before = await queryAt(prom, probe, t);
    const buildInfo = await queryAt(prom, 'prometheus_build_info', t);
    expect(Object.keys(before)).toHaveLength(1);
    expect(Number(Object.values(before)[0])).toBeGreaterThanOrEqual(3);

    const archive = await cluster.backup(recipe);
    const meta = await readMetadata(archive);
    expect(meta.status).toBe('success');
    expect(meta.components[0]).toMatchObject({ name: 'prometheus', status: 'success', componentVersion: '2.42.0' });
    const name = (await archiveEntry(archive, 'prometheus/host1/snapshot-name.txt')).trim();
    const entries = await archiveEntries(archive);
    const snapshotPrefix = `prometheus/host1/files${prom.dataDir}/snapshots/${name}/`;
    expect(entries.some((e) => e.startsWith(snapshotPrefix) && e.endsWith('/meta.json'))).toBe(true);
    expect(entries).toContain(`prometheus/host1/files${prom.configFile}`);
    // The post-step deleted the snapshot (and its name file) on the host.
    expect(await readdir(join(prom.dataDir, 'snapshots'))).toEqual([]);

    await runChecked(service!.script, ['stop']);
    await rm(join(baseDir, 'data'), { recursive: true, force: true });
    // What a restore finds in LambdaStack's data dir: Alertmanager's storage (kept, as it was),
    // and TSDB state newer than the backup (a block, the WAL: replaced by the snapshot's).
    const alertmanagerLog = join(baseDir, 'data', 'alertmanager', 'nflog');
    await mkdir(join(baseDir, 'data', 'alertmanager'), { recursive: true });
    await writeFile(alertmanagerLog, 'alertmanager state');
    await chown(alertmanagerLog, 65534, 65534);
    const newerBlock = join(baseDir, 'data', '01ZZZZZZZZZZZZZZZZZZZZZZZZ');
    await mkdir(join(newerBlock, 'chunks'), { recursive: true });
    await mkdir(join(baseDir, 'data', 'wal'), { recursive: true });
    await writeFile(join(baseDir, 'data', 'wal', '00000009'), 'newer wal');

    const r = succeeded(await cluster.restore(archive));
    expect(await readFile(alertmanagerLog, 'utf8')).toBe('alertmanager state');
    expect((await stat(alertmanagerLog)).uid, 'Alertmanager storage keeps its owner').toBe(65534);
    expect(await readdir(join(baseDir, 'data'))).not.toContain('01ZZZZZZZZZZZZZZZZZZZZZZZZ');
    // The restore started the server again, which may already have begun a WAL of its own: what
    // must be gone is the newer WAL the restore found (a readdir for 'wal' raced that start).
    expect(await readFile(join(baseDir, 'data', 'wal', '00000009'), 'utf8').catch(() => 'gone')).not.toBe('newer wal');
    expect(r.stderr).not.toMatch(/unexpected error/);
    // The test started and stopped it; the restore stopped (nothing to do) and started it.
    expect(await service!.calls()).toEqual(['start', 'stop', 'stop', 'start']);
    const restored = await readdir(join(baseDir, 'data'));
    expect(restored.some((f) => /^[0-9A-Z]{26}$/.test(f))).toBe(true); // TSDB blocks (ULIDs)
    expect(await readdir(join(baseDir, 'data', 'snapshots'))).toEqual([]);

    await startService();
    expect(await queryAt(prom, probe, t)).toEqual(before);
    expect(await queryAt(prom, 'prometheus_build_info', t)).toEqual(buildInfo);
  });

  it('round-trips through recipe test: a backfilled marker sample deleted through the admin API is queryable again', async () => {
    const calls = (await service!.calls()).length;
    // seed waits for Prometheus to load the backfilled block (it looks once a minute).
    await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env, timeoutMs: 900_000 });
    expect((await service!.calls()).slice(calls), 'the restore stopped and started the server').toEqual(['stop', 'start']);
    const value = await prom.query('last_over_time(lsbackup_recipe_test{marker="lsbackup-recipe-test"}[1d])');
    expect(value.map((v) => v.value[1])).toEqual(['42']);
  }, 900_000);

  it('a restored configuration promtool refuses is replaced by the previous one: Prometheus starts on the restored data with it, and the restore fails', async () => {
    const aside = await mkdtemp(join(tmpdir(), 'lsb-prom-aside-'));
    const config = await readFile(prom.configFile, 'utf8');
    try {
      // An edit on disk the running server never loaded: the backup holds it, and a start would refuse it.
      const { archive } = await backupWithUnreadEdit(cluster, recipe, prom.configFile, '\nnot: [valid\n');
      const calls = (await service!.calls()).length;
      const r = await cluster.restore(archive, ['--json', '--var', `prometheus.prometheus_tmp_dir=${aside}`]);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(stepEnd(r, 'check the restored configuration')).toEqual({
        status: 'failed',
        stdout: '',
        stderr:
          `prometheus: promtool check config refused the restored ${prom.configDir}/prometheus.yml (run it on the host to see why).` +
          ` The configuration from before the restore is back in ${prom.configDir}: Prometheus starts on the restored data with it`,
      });
      expect(await readFile(prom.configFile, 'utf8')).toBe(config);
      // Post started it, and it came up.
      expect((await service!.calls()).slice(calls)).toEqual(['stop', 'start']);
      expect(stepEnd(r, 'wait until prometheus is ready').status).toBe('success');
      expect(await httpOk(`${prom.url}/-/ready`)).toBe(true);
      expect(await readdir(aside)).toEqual([]);
    } finally {
      await rm(aside, { recursive: true, force: true });
      // Whatever happened, the next test finds the server as before.
      if (!(await httpOk(`${prom.url}/-/ready`))) {
        await writeFile(prom.configFile, config);
        await runChecked(service!.script, ['stop']);
        await startService();
      }
    }
  }, 600_000);

  // LambdaStack runs Prometheus as a Type=simple unit: `systemctl start` returns once the process
  // runs, also when it then refuses what the restore put back, so only Prometheus can tell.
  it('a restore after which Prometheus does not come up fails, naming its ready URL', async () => {
    const config = await readFile(prom.configFile, 'utf8');
    // An edit on disk the running server never loaded: the backup holds it, and a start refuses it
    // (without promtool on the host nothing checks it before).
    await writeFile(prom.configFile, `${config}\nnot: [valid\n`);
    try {
      const archive = await cluster.backup(recipe);
      const r = await cluster.restore(archive, ['--var', 'prometheus.prometheus_ready_timeout=4', '--var', 'prometheus.promtool=/nonexistent/promtool']);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(cliOutput(r)).toContain(`prometheus: started, but ${prom.url}/-/ready did not answer within 4s`);
      expect(cliOutput(r)).toContain('prometheus: /nonexistent/promtool not found: the restored configuration is checked only when Prometheus starts');
    } finally {
      await writeFile(prom.configFile, config);
      await runChecked(service!.script, ['stop']);
      await startService();
    }
  }, 600_000);

  // Disaster recovery into a rebuilt cluster: new VMs, new names and addresses. LambdaStack gave
  // the new monitoring VM a configuration whose file_sd targets are the new cluster's VMs (one file
  // per VM, node-<inventory name>.yml); the backup's name the old VMs, which are gone. The same
  // Prometheus at the same paths stands in for the old VM's and the rebuilt VM's.
  it("into a rebuilt cluster: the VM keeps its own configuration, whose targets are the new cluster's; the data comes back", async () => {
    const rebuilt = await createCluster({ fleet, groups: { host2: ['prometheus'] } });
    const config = await readFile(prom.configFile, 'utf8');
    const fileSd = join(prom.configDir, 'file_sd');
    const nodeTargets = (vm: string, address: string) =>
      writeFile(join(fileSd, `node-${vm}.yml`), `- targets: ['${address}']\n  labels: { instance: ${vm} }\n`);
    const restart = async () => {
      await runChecked(service!.script, ['stop']);
      await startService();
    };
    /** The targets Prometheus scrapes for job node. */
    const scraped = async () => {
      const body = (await (await fetch(`${prom.url}/api/v1/targets?state=active`)).json()) as {
        data: { activeTargets: Array<{ labels: Record<string, string> }> };
      };
      return body.data.activeTargets.filter((t) => t.labels.job === 'node').map((t) => t.labels.instance);
    };
    try {
      await writeFile(prom.configFile, `${config}\n  - job_name: node\n    file_sd_configs:\n      - files: ['${fileSd}/node-*.yml']\n`);
      await mkdir(fileSd);
      await nodeTargets('old-vm-1', '10.99.0.1:9100');
      await restart();
      await waitUntil('the old VM target scraped', async () => (await prom.query('up{instance="old-vm-1"}')).length === 1, { timeoutMs: 60_000 });
      await rebuilt.hostVars('host2', serviceVars());
      const archive = await cluster.backup(recipe);

      // The old cluster is lost; Ansible rendered the rebuilt VM's targets.
      await rm(join(fileSd, 'node-old-vm-1.yml'));
      await nodeTargets('new-vm-1', `127.0.0.1:${prom.port}`);
      const own = await readFile(prom.configFile, 'utf8');
      await restart();

      const r = await rebuilt.restore(archive, ['--verbose']);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(await readdir(fileSd)).toEqual(['node-new-vm-1.yml']);
      expect(await readFile(prom.configFile, 'utf8')).toBe(own);
      // file_sd is read a moment after the start.
      await waitUntil('the node targets discovered', async () => (await scraped()).length > 0, { timeoutMs: 60_000 });
      expect(await scraped()).toEqual(['new-vm-1']);
      expect(cliOutput(r)).toContain(`prometheus: the backup's configuration is another cluster's (targets 10.99.0.1:9100,`);
      // The backup's data is back: the old VM's target was scraped (and down) before the backup.
      expect((await prom.query('count_over_time(up{instance="old-vm-1"}[1h])')).length).toBe(1);
    } finally {
      await rm(fileSd, { recursive: true, force: true });
      await writeFile(prom.configFile, config);
      await restart();
      await rebuilt.cleanup();
    }
  }, 600_000);

  // roles/prometheus runs a Prometheus of its own on every host of the prometheus group: each
  // monitoring VM scrapes into its own TSDB, with its own configuration (its self-scrape target,
  // its external label). One VM's snapshot is not the other's data.
  it("two monitoring VMs: each VM's TSDB is backed up and restored onto it", async () => {
    const vm2Dir = await mkdtemp(join(tmpdir(), 'lsb-prom-vm2-'));
    const vm2 = await startPrometheus({ baseDir: vm2Dir });
    await vm2.stop();
    const vm2Service = await writeServiceScript({
      dir: vm2Dir,
      command: ['prometheus', ...prometheusArgs(vm2.configFile, vm2.dataDir, vm2.port)],
      identity: vm2.configFile,
      logFile: vm2.logFile,
    });
    const monitoring = await createCluster({ fleet, groups: { host1: ['prometheus'], host2: ['prometheus'] } });
    try {
      await runChecked(vm2Service.script, ['start']);
      await waitUntil("the second VM's prometheus", () => httpOk(`${vm2.url}/-/ready`), { timeoutMs: 120_000, logFile: vm2.logFile });
      await monitoring.hostVars('host1', serviceVars());
      await monitoring.hostVars('host2', {
        prometheus_url: vm2.url,
        prometheus_data_dir: vm2.dataDir,
        prometheus_config_dir: vm2.configDir,
        prometheus_stop_command: `${vm2Service.script} stop`,
        prometheus_start_command: `${vm2Service.script} start`,
      });
      const probe = 'count_over_time(up{job="prometheus"}[1m])';
      await waitUntil('a few self-scrapes on the second VM', async () => Number((await vm2.query(probe))[0]?.value[1] ?? 0) >= 3, { timeoutMs: 60_000 });
      const t = Math.floor(Date.now() / 1000) - 1;
      const before = await queryAt(vm2, probe, t);
      expect(Object.keys(before)).toEqual([JSON.stringify({ instance: `127.0.0.1:${vm2.port}`, job: 'prometheus' })]);

      const archive = await monitoring.backup(recipe);
      const meta = await readMetadata(archive);
      expect(meta.components.find((c) => c.name === 'prometheus')?.hosts.map((h) => [h.name, h.status])).toEqual([
        ['host1', 'success'],
        ['host2', 'success'],
      ]);
      expect(await readdir(join(vm2.dataDir, 'snapshots')), "the backup's post deleted the second VM's snapshot").toEqual([]);

      // The second VM's TSDB is lost.
      await runChecked(vm2Service.script, ['stop']);
      await rm(vm2.dataDir, { recursive: true, force: true });
      const r = await monitoring.restore(archive);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(await queryAt(vm2, probe, t), "the second VM's own samples are back").toEqual(before);
    } finally {
      await vm2Service.stop();
      await monitoring.cleanup();
      await rm(vm2Dir, { recursive: true, force: true });
    }
  }, 600_000);
});
