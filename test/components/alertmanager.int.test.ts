/**
 * recipes/alertmanager.yaml round trip against a REAL Alertmanager 0.25, over SSH (fleet
 * host host1, user lsbtest with sudo): config + silences → backup → stop, wipe the data dir,
 * start with a default config → restore → the config is back and loaded, the silences that
 * had not expired exist again (once, also after a second restore).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startAlertmanager, type AlertmanagerServer, type Silence } from '../infra/index.js';
import { archiveEntry, readMetadata } from '../helpers/archive.js';
import { succeeded } from '../helpers/cli.js';
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
    succeeded(await cluster.restore(archive));
    expect(await readFile(am.configFile, 'utf8')).toBe(customConfig);
    expect(await loadedConfig(am)).toContain('team-x');
    expect(await liveSilences(am)).toEqual(before);

    // A second restore re-creates nothing that is already there.
    succeeded(await cluster.restore(archive));
    expect(await liveSilences(am)).toEqual(before);
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
});
