/**
 * recipes/alertmanager.yaml round trip against a REAL Alertmanager 0.25, over SSH (fleet
 * host host1, user lsbtest with sudo): config + silences → backup → stop, wipe the data dir,
 * start with a default config → restore → the config is back and loaded, the silences that
 * had not expired exist again (once, also after a second restore). A restored configuration
 * Alertmanager refuses is replaced by the previous one, reloaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { freePorts, startAlertmanager, waitUntil, type AlertmanagerServer, type Silence } from '../infra/index.js';
import { archiveEntries, archiveEntry, readMetadata } from '../helpers/archive.js';
import { cliOutput, stepEnd, succeeded } from '../helpers/cli.js';
import { backupWithUnreadEdit } from '../helpers/config-edit.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';

const recipe = shippedRecipe('alertmanager');
let fleet: Fleet;
let cluster: Cluster;
let baseDir: string;
let am: AlertmanagerServer | undefined;

beforeAll(async () => {
  fleet = await startFleet({ hosts: 1 });
  cluster = await createCluster({ fleet, groups: { host1: ['prometheus'] } });
  baseDir = await mkdtemp(join(tmpdir(), 'lsb-am-base-'));
});
afterAll(async () => {
  await am?.stop();
  await fleet?.stop();
  await cluster?.cleanup();
  if (baseDir) await rm(baseDir, { recursive: true, force: true });
});

const customConfig = 'route:\n  receiver: team-x\nreceivers:\n  - name: team-x\n';
const hour = 3_600_000;

/** Silences that have not expired, without server-assigned fields, in a stable order. */
async function liveSilences(server: AlertmanagerServer) {
  return (await server.listSilences())
    .filter((s) => s.status?.state !== 'expired')
    .map((s: Silence) => ({ matchers: s.matchers, endsAt: s.endsAt, createdBy: s.createdBy, comment: s.comment, state: s.status?.state }))
    .sort((a, b) => a.comment.localeCompare(b.comment));
}

async function loadedConfig(server: AlertmanagerServer): Promise<string> {
  const status = (await (await fetch(`${server.url}/api/v2/status`)).json()) as { config: { original: string } };
  return status.config.original;
}

describe('alertmanager recipe (real Alertmanager, over SSH)', () => {
  it('brings back the configuration and the silences that had not expired', async () => {
    am = await startAlertmanager({ baseDir });
    await writeFile(am.configFile, customConfig);
    expect((await fetch(`${am.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    const now = Date.now();
    await am.createSilence({
      matchers: [{ name: 'alertname', value: 'NodeDown', isRegex: false, isEqual: true }],
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 2 * hour).toISOString(),
      createdBy: 'ops',
      comment: 'active: maintenance of node 3',
    });
    await am.createSilence({
      matchers: [{ name: 'job', value: 'kafka.*', isRegex: true, isEqual: true }],
      startsAt: new Date(now + hour).toISOString(),
      endsAt: new Date(now + 3 * hour).toISOString(),
      createdBy: 'ops',
      comment: 'pending: tomorrow\'s "upgrade"',
    });
    const gone = await am.createSilence({
      matchers: [{ name: 'severity', value: 'info', isRegex: false, isEqual: true }],
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + hour).toISOString(),
      createdBy: 'ops',
      comment: 'expired',
    });
    await am.expireSilence(gone);
    const before = await liveSilences(am);
    expect(before.map((s) => s.state)).toEqual(['active', 'pending']);

    const vars = { alertmanager_config_file: am.configFile, alertmanager_config_dir: join(baseDir, 'no-such-dir') };
    await cluster.hostVars('host1', { ...vars, alertmanager_url: am.url });
    const archive = await cluster.backup(recipe);
    expect((await readMetadata(archive)).components[0]).toMatchObject({ status: 'success', componentVersion: '0.25.0' });
    expect(JSON.parse(await archiveEntry(archive, 'alertmanager/host1/silences.json'))).toHaveLength(3);

    // Destroy: the server's state is wiped and it comes back with the helper's default config.
    await am.stop();
    am = undefined;
    await rm(join(baseDir, 'data'), { recursive: true, force: true });
    am = await startAlertmanager({ baseDir });
    expect(await am.listSilences()).toEqual([]);
    expect(await readFile(am.configFile, 'utf8')).not.toBe(customConfig);

    await cluster.hostVars('host1', { ...vars, alertmanager_url: am.url });
    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(stepEnd(r, 'reload the configuration').stdout).toBe('alertmanager: reloaded the restored configuration');
    expect(await readFile(am.configFile, 'utf8')).toBe(customConfig);
    expect(await loadedConfig(am)).toContain('team-x');
    expect(await liveSilences(am)).toEqual(before);

    // A second restore re-creates nothing that is already there.
    succeeded(await cluster.restore(archive));
    expect(await liveSilences(am)).toEqual(before);
  });

  it('puts the previous configuration back and reloads it when Alertmanager refuses the restored one, and fails', async () => {
    const aside = await mkdtemp(join(tmpdir(), 'lsb-am-aside-'));
    try {
      const dir = join(baseDir, 'no-such-dir');
      await cluster.hostVars('host1', {
        alertmanager_config_file: am!.configFile,
        alertmanager_config_dir: dir,
        alertmanager_url: am!.url,
        alertmanager_tmp_dir: aside,
      });
      // A field Alertmanager does not know, written to disk and never reloaded before the backup.
      const { archive, config } = await backupWithUnreadEdit(cluster, recipe, am!.configFile, 'no_such_field: 1\n');
      const loaded = await loadedConfig(am!);

      const r = await cluster.restore(archive, ['--json']);
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(stepEnd(r, 'reload the configuration')).toEqual({
        status: 'failed',
        stdout: '',
        stderr:
          'alertmanager: Alertmanager refused the restored configuration (the reload answered HTTP 500; its log says why: journalctl -u alertmanager, or prometheus-alertmanager on Debian).' +
          ` The configuration from before the restore is back (${am!.configFile}, ${dir}): Alertmanager reloaded it`,
      });
      expect(await readFile(am!.configFile, 'utf8')).toBe(config);
      expect(await loadedConfig(am!)).toBe(loaded);
      expect(await readdir(aside)).toEqual([]);
    } finally {
      await rm(aside, { recursive: true, force: true });
    }
  });

  it("round-trips the recipe's test silence through recipe test; the other live silences stay as they were", async () => {
    const before = await liveSilences(am!);
    const vars = { alertmanager_config_file: am!.configFile, alertmanager_config_dir: join(baseDir, 'no-such-dir') };
    await cluster.hostVars('host1', { ...vars, alertmanager_url: am!.url });
    await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    const after = await liveSilences(am!);
    expect(after.filter((s) => s.comment !== 'lsbackup-recipe-test')).toEqual(before);
    expect(after.filter((s) => s.comment === 'lsbackup-recipe-test').map((s) => s.state)).toEqual(['active']);

    // A rerun (the test silence is still active from the first) seeds no second one.
    await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    expect((await liveSilences(am!)).filter((s) => s.comment === 'lsbackup-recipe-test').map((s) => s.state)).toEqual(['active']);
  });
  it("finds LambdaStack's alertmanager.yml in the manifest's prometheus config_directory, not only in /etc/prometheus", async () => {
    // roles/prometheus writes alertmanager.yml into configuration/prometheus config_directory. The
    // recipe is optional: looked for in the wrong place, it was 'not installed' and its silences never
    // saved (here, where Debian's package has an /etc/prometheus/alertmanager.yml, that other file was saved).
    await cluster.hostVars('host1', { alertmanager_url: am!.url, alertmanager_config_dir: join(baseDir, 'no-such-dir') });
    const manifest = join(cluster.build, 'manifest.yml');
    await writeFile(
      manifest,
      ['kind: configuration/prometheus', 'name: default', 'specification:', `  config_directory: ${dirname(am!.configFile)}`, ''].join('\n'),
    );
    try {
      const archive = await cluster.backup(recipe);
      expect((await readMetadata(archive)).components[0]).toMatchObject({ name: 'alertmanager', status: 'success' });
      const saved = JSON.parse(await archiveEntry(archive, 'alertmanager/host1/silences.json')) as Silence[];
      expect(saved.map((s) => s.comment)).toEqual(expect.arrayContaining((await liveSilences(am!)).map((s) => s.comment)));
      expect(await archiveEntries(archive)).toContain(`alertmanager/host1/files${am!.configFile}`);
    } finally {
      await rm(manifest, { force: true });
    }
  });
});

/**
 * LambdaStack with two monitoring VMs: each runs an Alertmanager of its own (its Prometheus alerts
 * 127.0.0.1:9093, no --cluster.peer), so each VM's silences are its own. A gossip cluster shares
 * them instead, and its restore must not post each silence once per peer.
 */
describe('alertmanager recipe on two monitoring hosts (real Alertmanagers, over SSH)', () => {
  let fleet2: Fleet;
  let cluster2: Cluster;
  const servers: AlertmanagerServer[] = [];
  beforeAll(async () => {
    fleet2 = await startFleet({ hosts: 2 });
    cluster2 = await createCluster({ fleet: fleet2, groups: { host1: ['prometheus'], host2: ['prometheus'] } });
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await fleet2?.stop();
    await cluster2?.cleanup();
  });

  const silence = (comment: string) => {
    const now = Date.now();
    return {
      matchers: [{ name: 'alertname', value: comment, isRegex: false, isEqual: true }],
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 2 * hour).toISOString(),
      createdBy: 'ops',
      comment,
    };
  };
  const live = async (server: AlertmanagerServer) => (await server.listSilences()).filter((s) => s.status?.state !== 'expired');
  const pointAt = async (host: string, server: AlertmanagerServer) =>
    cluster2.hostVars(host, {
      alertmanager_url: server.url,
      alertmanager_config_file: server.configFile,
      alertmanager_config_dir: join(server.baseDir, 'no-such-dir'),
    });

  it("backs up and restores each VM's own silences, not only the first VM's", async () => {
    const [vm0, vm1] = [await startAlertmanager(), await startAlertmanager()];
    servers.push(vm0, vm1);
    const [id0, id1] = [await vm0.createSilence(silence('silenced on vm 0')), await vm1.createSilence(silence('silenced on vm 1'))];
    await pointAt('host1', vm0);
    await pointAt('host2', vm1);
    const archive = await cluster2.backup(recipe);
    expect(JSON.parse(await archiveEntry(archive, 'alertmanager/host2/silences.json')).map((s: Silence) => s.comment)).toEqual(['silenced on vm 1']);

    await vm0.expireSilence(id0);
    await vm1.expireSilence(id1);
    succeeded(await cluster2.restore(archive));
    expect((await live(vm0)).map((s) => s.comment)).toEqual(['silenced on vm 0']);
    expect((await live(vm1)).map((s) => s.comment)).toEqual(['silenced on vm 1']);
  });

  it('in a gossip cluster, one peer re-creates the silences and gossip brings them to the other: no copy per peer', async () => {
    const [gossip0, gossip1] = await freePorts(2);
    const peer0 = await startAlertmanager({ cluster: { listenPort: gossip0, peerPorts: [gossip1] } });
    servers.push(peer0);
    const peer1 = await startAlertmanager({ cluster: { listenPort: gossip1, peerPorts: [gossip0] } });
    servers.push(peer1);
    const peers = async (s: AlertmanagerServer) =>
      ((await (await fetch(`${s.url}/api/v2/status`)).json()) as { cluster: { peers?: unknown[] } }).cluster.peers?.length ?? 0;
    await waitUntil('both Alertmanagers see two peers', async () => (await peers(peer0)) === 2 && (await peers(peer1)) === 2);
    const id = await peer0.createSilence(silence('shared by the cluster'));
    await waitUntil('the silence reached the other peer by gossip', async () => (await live(peer1)).some((s) => s.id === id));
    await pointAt('host1', peer0);
    await pointAt('host2', peer1);
    const archive = await cluster2.backup(recipe);

    await peer0.expireSilence(id);
    await waitUntil('the expiry reached the other peer', async () => (await live(peer1)).length === 0);
    const run = await cluster2.restore(archive);
    succeeded(run);
    // Each peer's own posts are there at once; gossip only adds the other's. Without the rule
    // both peers posted a copy: two ids right after the restore.
    const ids = new Set([...(await live(peer0)), ...(await live(peer1))].map((s) => s.id));
    expect(ids.size).toBe(1);
    const [restored] = ids;
    await waitUntil('the re-created silence reached both peers', async () => {
      const both = [await live(peer0), await live(peer1)];
      return both.every((l) => l.length === 1 && l[0]!.id === restored);
    });
  });
});
