/**
 * recipes/grafana.yaml round trips. Grafana here is a STAND-IN (test/infra/standins/grafana.ts,
 * Grafana 7.3.5 as LambdaStack installs it): nothing real can run on this machine. It speaks the
 * dashboards/datasources HTTP API behind basic auth and, like Grafana, never returns a
 * datasource's secureJsonData; the recipe and curl are what runs against Grafana. grafana.db is a
 * REAL SQLite database (written with the sqlite3 CLI), so the consistent-copy path (`.backup`) is
 * real. Host: the local host (ansible_connection=local), as root through sudo.
 * - Debian default: plain HTTP, the admin password as a secret in the environment.
 * - LambdaStack: HTTPS with an EXPIRED self-signed certificate for CN=localhost at
 *   <config>/ssl/grafana_cert.pem, port, certificate, data dir and admin password from manifest.yml
 *   through profiles/lambdastack.yaml (no --var, no secret in the environment).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startGrafanaStandIn, waitUntil, type GrafanaStandIn } from '../infra/index.js';
import { writeSelfSignedCert } from '../infra/standins/self-signed.js';
import { archiveEntries, archiveEntryBytes, archiveLines, readMetadata } from '../helpers/archive.js';
import { cliOutput, succeeded } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';

const recipe = shippedRecipe('grafana');

/** The test's own admin client. It skips certificate checks (the test made the certificate); the recipe does not. */
function client(grafana: GrafanaStandIn) {
  const auth = 'Basic ' + Buffer.from(`${grafana.user}:${grafana.password}`).toString('base64');
  const api = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const url = new URL(path, grafana.url);
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, { method, rejectUnauthorized: false, headers: { 'content-type': 'application/json', authorization: auth } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  /** Whole dashboards by uid and whole datasources by name, minus what Grafana rewrites on a save (id, version). */
  const state = async () => {
    const search = (await api('GET', '/api/search?type=dash-db')).body as Array<{ uid: string }>;
    const dashboards: Record<string, unknown> = {};
    for (const { uid } of search) {
      const { id: _id, version: _version, ...rest } = (await api('GET', `/api/dashboards/uid/${uid}`)).body.dashboard;
      dashboards[uid] = rest;
    }
    const datasources: Record<string, unknown> = {};
    for (const { id } of (await api('GET', '/api/datasources')).body as Array<{ id: number }>) {
      const { id: _id, version: _version, ...rest } = (await api('GET', `/api/datasources/${id}`)).body;
      datasources[rest.name] = rest;
    }
    return { dashboards, datasources };
  };

  const seed = async () => {
    expect(
      (
        await api('POST', '/api/datasources', {
          name: 'Prometheus',
          type: 'prometheus',
          url: 'http://prom:9090',
          access: 'proxy',
          isDefault: true,
          jsonData: { tlsSkipVerify: true },
        })
      ).status,
    ).toBe(200);
    // A password Grafana keeps in secureJsonData: never returned by the API.
    expect(
      (
        await api('POST', '/api/datasources', {
          name: 'Logs',
          type: 'elasticsearch',
          url: 'https://es:9200',
          basicAuth: true,
          basicAuthUser: 'logstash',
          database: 'logs-*',
          jsonData: { timeField: '@timestamp', esVersion: 70 },
          secureJsonData: { basicAuthPassword: 'es-pw-8812' },
        })
      ).status,
    ).toBe(200);
    for (const [uid, title] of [
      ['node-exp', 'Node exporter'],
      ['kafka', 'Kafka "lag"'],
    ] as const) {
      const dashboard = {
        id: null,
        uid,
        title,
        tags: ['lsb', uid],
        timezone: 'utc',
        schemaVersion: 26,
        refresh: '30s',
        time: { from: 'now-6h', to: 'now' },
        templating: { list: [{ name: 'host', type: 'query', datasource: 'Prometheus' }] },
        panels: [{ id: 1, type: 'graph', title: `${title} panel`, gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ expr: 'up', refId: 'A' }] }],
      };
      expect((await api('POST', '/api/dashboards/db', { dashboard, overwrite: false })).status).toBe(200);
    }
  };
  return { api, state, seed };
}

const sqlite = (db: string, sql: string) => execa('sqlite3', [db, sql]).then((r) => r.stdout);

describe('grafana recipe, Debian default (Grafana STAND-IN on plain HTTP + real SQLite grafana.db, local host)', () => {
  // Quotes and a backslash: the curl config built from it must escape them.
  const PASSWORD = 'gr"af\\ana-pw-7731';
  let grafana: GrafanaStandIn;
  let cluster: Cluster;
  beforeAll(async () => {
    grafana = await startGrafanaStandIn({ password: PASSWORD });
    cluster = await createCluster({ local: ['grafana'], env: { GRAFANA_ADMIN_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await grafana?.stop();
    // The files-mode test restarts the stand-in on the first one's base dir, which the second does not own.
    if (grafana) await rm(grafana.baseDir, { recursive: true, force: true });
    await cluster?.cleanup();
  });

  it('restores whole dashboards and datasources through the API, warns that datasource passwords are lost there, and files mode brings them back', async () => {
    const { api, state, seed } = client(grafana);
    await seed();
    const db = join(grafana.dataDir, 'grafana.db');
    await sqlite(db, "CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO dashboard (title) VALUES ('Node exporter'), ('Kafka');");
    const before = await state();
    expect(Object.keys(before.dashboards).sort()).toEqual(['kafka', 'node-exp']);
    expect(before.datasources['Logs']).toMatchObject({ basicAuthUser: 'logstash', secureJsonFields: { basicAuthPassword: true } });

    const marker = join(cluster.dir, 'service.log');
    const vars = {
      grafana_url: grafana.url,
      grafana_config_dir: grafana.configDir,
      grafana_data_dir: grafana.dataDir,
      grafana_stop_command: `echo stop >> ${marker}`,
      grafana_start_command: `echo start >> ${marker}`,
    };
    await cluster.hostVars('localhost', vars);
    const archive = await cluster.backup(recipe);
    expect((await readMetadata(archive)).components[0]).toMatchObject({ name: 'grafana', status: 'success' });
    expect((await readFile(`${archive}.metadata.json`, 'utf8')).includes(PASSWORD)).toBe(false);

    // The database entry is a consistent SQLite copy; the live file is not collected.
    const copy = join(cluster.dir, 'copy.db');
    await writeFile(copy, await archiveEntryBytes(archive, 'grafana/localhost/grafana.db'));
    expect(await sqlite(copy, 'PRAGMA integrity_check; SELECT count(*) FROM dashboard;')).toBe('ok\n2');
    const entries = await archiveEntries(archive);
    expect(entries).toContain(`grafana/localhost/files${grafana.dataDir}/grafana.json`);
    expect(entries).toContain(`grafana/localhost/files${grafana.configDir}/grafana.ini`);
    expect(entries.filter((e) => e.includes('/files/') && e.includes('grafana.db'))).toEqual([]);
    expect(await archiveLines(archive, 'grafana/localhost/dashboards.ndjson')).toHaveLength(2);
    // Datasources as Grafana answers for each one: basicAuthUser kept, the password only named.
    const saved = JSON.parse((await archiveLines(archive, 'grafana/localhost/datasources.json')).join('\n'));
    expect(saved.find((d: any) => d.name === 'Logs')).toMatchObject({ basicAuthUser: 'logstash', secureJsonFields: { basicAuthPassword: true } });
    expect(JSON.stringify(saved)).not.toContain('es-pw-8812');

    // Destroy through the API: a dashboard and a datasource deleted, a dashboard changed.
    await api('DELETE', '/api/dashboards/uid/kafka');
    await api('DELETE', `/api/datasources/uid/${(before.datasources['Logs'] as { uid: string }).uid}`);
    await api('POST', '/api/dashboards/db', { dashboard: { uid: 'node-exp', title: 'changed', panels: [] }, overwrite: true });
    expect(await state()).not.toEqual(before);

    const r = succeeded(await cluster.restore(archive));
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const after = await state();
    expect(after.dashboards).toEqual(before.dashboards);
    // Everything of the datasources came back but the password Grafana never gave out: the
    // restore says so, naming the datasource and the field, and the component still succeeds.
    expect(after.datasources).toEqual({ ...before.datasources, Logs: { ...(before.datasources['Logs'] as object), secureJsonFields: {} } });
    expect(cliOutput(r)).toMatch(/warning grafana @ localhost: .*datasource "Logs" lacks basicAuthPassword.*grafana_restore_files=true/);
    expect(await readFile(marker, 'utf8').catch(() => '')).toBe(''); // API mode: Grafana kept running

    // Files mode: Grafana stopped, config + data dir + database back (the password with them), started again.
    await rm(db);
    await writeFile(join(grafana.configDir, 'grafana.ini'), 'broken\n');
    await cluster.hostVars('localhost', { ...vars, grafana_restore_files: true });
    await grafana.stop();
    // A Grafana that does not come back (Type=simple: its start returned all the same) fails the restore.
    const down = await cluster.restore(archive, ['--var', 'grafana.grafana_ready_timeout=2']);
    expect(down.exitCode, cliOutput(down)).not.toBe(0);
    expect(cliOutput(down)).toContain(`grafana: started, but ${grafana.url}/api/health did not answer within 2s`);
    await writeFile(marker, '');
    await rm(db);
    // The start command's line is where systemctl would start Grafana: the stand-in starts then, on
    // the restored data dir, and the restore waits for it.
    const restoring = cluster.restore(archive);
    await waitUntil('the restore starts grafana', async () => (await readFile(marker, 'utf8')).includes('start'), { timeoutMs: 300_000 });
    expect(await sqlite(db, 'SELECT title FROM dashboard ORDER BY id;')).toBe('Node exporter\nKafka');
    expect(await readFile(join(grafana.configDir, 'grafana.ini'), 'utf8')).toContain('[paths]');
    grafana = await startGrafanaStandIn({ baseDir: grafana.baseDir, password: PASSWORD, port: grafana.port });
    const files = succeeded(await restoring);
    expect(cliOutput(files)).not.toContain('warning grafana');
    expect((await readFile(marker, 'utf8')).split('\n').filter(Boolean)).toEqual(['stop', 'start']);
    // The state of the backup, credentials included.
    const restored = await client(grafana).state();
    expect(restored.dashboards).toEqual(before.dashboards);
    expect(restored.datasources).toEqual(before.datasources);
  }, 600_000); // three CLI runs: generous on a loaded machine

  it("round-trips the recipe's test dashboard and datasource through recipe test (API mode); the rest stays as it was", async () => {
    const { state } = client(grafana);
    const before = await state();
    await cluster.hostVars('localhost', { grafana_url: grafana.url, grafana_config_dir: grafana.configDir, grafana_data_dir: grafana.dataDir });
    const run = await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    const after = await state();
    const { 'lsbackup-recipe-test': dashboard, ...otherDashboards } = after.dashboards;
    const { 'lsbackup-recipe-test': datasource, ...otherDatasources } = after.datasources;
    expect({ dashboards: otherDashboards, datasources: otherDatasources }).toEqual(before);
    expect(dashboard).toMatchObject({ uid: 'lsbackup-recipe-test', title: 'lsbackup-recipe-test', tags: ['lsbackup-recipe-test'] });
    expect(datasource).toMatchObject({ uid: 'lsbackup-recipe-test', type: 'prometheus', url: 'http://lsbackup-recipe-test:9090' });
  }, 600_000);
});

describe('grafana recipe, LambdaStack (Grafana STAND-IN on HTTPS with an expired self-signed certificate; values from manifest.yml)', () => {
  const PASSWORD = 'manifest-grafana-pw-"4410';
  const PROVISIONED = { uid: 'node-full', title: 'Node Exporter Full', schemaVersion: 26, panels: [{ id: 1, type: 'graph', title: 'CPU' }] };
  let grafana: GrafanaStandIn;
  let cluster: Cluster;
  beforeAll(async () => {
    // A dashboard provisioned from <data dir>/dashboards, as roles/grafana does with grafana_external_dashboards.
    grafana = await startGrafanaStandIn({ password: PASSWORD, tls: { expired: true }, provisioned: [PROVISIONED] });
    cluster = await createCluster({ local: ['grafana'], hostVars: { localhost: { grafana_config_dir: grafana.configDir } } });
    // manifest.yml as lscli saves it (configuration/grafana, LambdaStack's defaults but the port,
    // certificate and data dir of the stand-in).
    await writeFile(
      join(cluster.build, 'manifest.yml'),
      [
        'kind: configuration/grafana',
        'name: default',
        'specification:',
        `  grafana_data_dir: ${grafana.dataDir}`,
        '  grafana_address: 0.0.0.0',
        `  grafana_port: ${grafana.port}`,
        '  grafana_server:',
        '    protocol: https',
        `    cert_file: ${grafana.certFile}`,
        `    cert_key: ${join(grafana.configDir, 'ssl', 'grafana_key.key')}`,
        '  grafana_security:',
        '    admin_user: admin',
        `    admin_password: '${PASSWORD}'`,
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await grafana?.stop();
    await cluster?.cleanup();
  });

  it('backs up over HTTPS trusting the expired certificate by its pinned key, and restores through the API (provisioned dashboards left to their files)', async () => {
    const expired = await execa('openssl', ['x509', '-in', grafana.certFile!, '-noout', '-checkend', '0'], { reject: false });
    expect(expired.exitCode).toBe(1); // the certificate is out of date, as on a year-old cluster
    const { api, state, seed } = client(grafana);
    await seed();
    await sqlite(join(grafana.dataDir, 'grafana.db'), 'CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT);');
    const before = await state();

    const archive = await cluster.backup(recipe);
    expect((await readMetadata(archive)).components[0]).toMatchObject({ name: 'grafana', status: 'success' });
    expect(await archiveLines(archive, 'grafana/localhost/dashboards.ndjson')).toHaveLength(3);
    expect(await readFile(`${archive}.metadata.json`, 'utf8')).not.toContain(PASSWORD);

    expect(Object.keys(before.dashboards).sort()).toEqual(['kafka', 'node-exp', 'node-full']);

    await api('DELETE', '/api/dashboards/uid/kafka');
    // Grafana refuses to save a provisioned dashboard through the API: the restore leaves it to its file.
    expect((await api('POST', '/api/dashboards/db', { dashboard: { ...PROVISIONED, id: null }, overwrite: true })).status).toBe(400);
    const r = succeeded(await cluster.restore(archive));
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect((await state()).dashboards).toEqual(before.dashboards);
  });

  it("round-trips the recipe's test dashboard and datasource through recipe test over HTTPS with the pinned key", async () => {
    const run = await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    const { dashboards, datasources } = await client(grafana).state();
    expect(dashboards['lsbackup-recipe-test']).toMatchObject({ title: 'lsbackup-recipe-test' });
    expect(datasources['lsbackup-recipe-test']).toMatchObject({ url: 'http://lsbackup-recipe-test:9090' });
  });

  it("refuses a server whose key is not the certificate's (no blind -k)", async () => {
    const other = join(cluster.dir, 'other_cert.pem');
    await writeSelfSignedCert(other, join(cluster.dir, 'other_key.key'));
    await cluster.hostVars('localhost', { grafana_config_dir: grafana.configDir, grafana_server_cert: other });
    const r = await cluster.apply(recipe);
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(cliOutput(r)).toMatch(/public key does not match pinned public key/);
  });
});

describe('grafana recipe on two monitoring VMs (a Grafana STAND-IN with its own data on each, over SSH)', () => {
  // LambdaStack's monitoring feature puts Grafana on every monitoring VM; each keeps its own
  // grafana.db (sqlite3), so a dashboard made on the second VM exists only there.
  const PASSWORD = 'two-vms-grafana-pw';
  let fleet: Fleet;
  let cluster: Cluster;
  const grafanas: GrafanaStandIn[] = [];
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2 });
    grafanas.push(await startGrafanaStandIn({ password: PASSWORD }), await startGrafanaStandIn({ password: PASSWORD }));
    cluster = await createCluster({
      fleet,
      groups: { host1: ['grafana'], host2: ['grafana'] },
      hostVars: Object.fromEntries(
        grafanas.map((g, i) => [`host${i + 1}`, { grafana_url: g.url, grafana_config_dir: g.configDir, grafana_data_dir: g.dataDir }]),
      ),
      env: { GRAFANA_ADMIN_PASSWORD: PASSWORD },
    });
  });
  afterAll(async () => {
    for (const g of grafanas) await g.stop();
    await fleet?.stop();
    await cluster?.cleanup();
  });

  it("backs up and restores each VM's own dashboards, not only the first VM's", async () => {
    const made = await Promise.all(
      grafanas.map(async (g, i) => {
        const dashboard = { id: null, uid: `made-on-vm-${i}`, title: `Made on VM ${i}`, panels: [] };
        expect((await client(g).api('POST', '/api/dashboards/db', { dashboard, overwrite: false })).status).toBe(200);
        await sqlite(join(g.dataDir, 'grafana.db'), 'CREATE TABLE IF NOT EXISTS dashboard (id INTEGER PRIMARY KEY, title TEXT);');
        return client(g).state();
      }),
    );
    const archive = await cluster.backup(recipe);
    expect(await archiveLines(archive, 'grafana/host2/dashboards.ndjson')).toHaveLength(1);

    for (const [i, g] of grafanas.entries()) await client(g).api('DELETE', `/api/dashboards/uid/made-on-vm-${i}`);
    succeeded(await cluster.restore(archive));
    for (const [i, g] of grafanas.entries()) expect((await client(g).state()).dashboards).toEqual(made[i]!.dashboards);
  }, 600_000);
});
