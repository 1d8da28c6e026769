/**
 * recipes/grafana.yaml round trip. Grafana here is a STAND-IN (test/infra/standins/grafana.ts):
 * nothing real can run on this machine. It speaks the dashboards/datasources HTTP API behind
 * basic auth; the recipe and curl are what runs against Grafana. grafana.db is a REAL SQLite
 * database (written with the sqlite3 CLI), so the consistent-copy path (`.backup`) is real.
 * Host: the local host (ansible_connection=local), as root through sudo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startGrafanaStandIn, type GrafanaStandIn } from '../infra/index.js';
import { archiveEntries, archiveEntryBytes, archiveLines, readMetadata } from '../helpers/archive.js';
import { succeeded } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';

const recipe = shippedRecipe('grafana');
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
  await cluster?.cleanup();
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${grafana.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: 'Basic ' + Buffer.from(`admin:${PASSWORD}`).toString('base64') },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

/** Dashboards by uid (title and panels) and datasources by name (type and url). */
async function state() {
  const search = (await api('GET', '/api/search?type=dash-db')).body as Array<{ uid: string }>;
  const dashboards: Record<string, unknown> = {};
  for (const { uid } of search) {
    const d = (await api('GET', `/api/dashboards/uid/${uid}`)).body.dashboard;
    dashboards[uid] = { title: d.title, panels: d.panels };
  }
  const datasources = Object.fromEntries(((await api('GET', '/api/datasources')).body as any[]).map((d) => [d.name, { type: d.type, url: d.url }]));
  return { dashboards, datasources };
}

const sqlite = (db: string, sql: string) => execa('sqlite3', [db, sql]).then((r) => r.stdout);

describe('grafana recipe (Grafana STAND-IN + real SQLite grafana.db, local host)', () => {
  it('restores dashboards and datasources through the API, and files + database on request', async () => {
    expect((await api('POST', '/api/datasources', { name: 'Prometheus', type: 'prometheus', url: 'http://prom:9090', access: 'proxy' })).status).toBe(200);
    expect((await api('POST', '/api/datasources', { name: 'Logs', type: 'elasticsearch', url: 'https://es:9200' })).status).toBe(200);
    for (const [uid, title] of [['node-exp', 'Node exporter'], ['kafka', 'Kafka "lag"']] as const) {
      const r = await api('POST', '/api/dashboards/db', { dashboard: { id: null, uid, title, panels: [{ id: 1, type: 'graph', title: `${title} panel` }] }, overwrite: false });
      expect(r.status).toBe(200);
    }
    const db = join(grafana.dataDir, 'grafana.db');
    await sqlite(db, "CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO dashboard (title) VALUES ('Node exporter'), ('Kafka');");
    const before = await state();
    expect(Object.keys(before.dashboards).sort()).toEqual(['kafka', 'node-exp']);

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

    // Destroy through the API: a dashboard and a datasource deleted, a dashboard changed.
    await api('DELETE', '/api/dashboards/uid/kafka');
    const logs = ((await api('GET', '/api/datasources')).body as any[]).find((d) => d.name === 'Logs');
    await api('DELETE', `/api/datasources/uid/${logs.uid}`);
    await api('POST', '/api/dashboards/db', { dashboard: { uid: 'node-exp', title: 'changed', panels: [] }, overwrite: true });
    expect(await state()).not.toEqual(before);

    const r = succeeded(await cluster.restore(archive));
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(await state()).toEqual(before);
    expect(await readFile(marker, 'utf8').catch(() => '')).toBe(''); // API mode: Grafana kept running

    // Files mode: Grafana stopped, config + data dir + database back, started again.
    await rm(db);
    await writeFile(join(grafana.configDir, 'grafana.ini'), 'broken\n');
    await cluster.hostVars('localhost', { ...vars, grafana_restore_files: true });
    succeeded(await cluster.restore(archive));
    expect((await readFile(marker, 'utf8')).split('\n').filter(Boolean)).toEqual(['stop', 'start']);
    expect(await sqlite(db, 'SELECT title FROM dashboard ORDER BY id;')).toBe('Node exporter\nKafka');
    expect(await readFile(join(grafana.configDir, 'grafana.ini'), 'utf8')).toContain('[paths]');
  });
});
