/**
 * recipes/kibana.yaml round trip. Kibana here is a STAND-IN (test/infra/standins/kibana.ts):
 * nothing real can run on this machine. It speaks the saved-objects export/import API
 * (ndjson, multipart upload, kbn-xsrf); the recipe and curl are what runs against Kibana.
 * Host: the local host (ansible_connection=local), as root through sudo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startKibanaStandIn, type KibanaStandIn } from '../infra/index.js';
import { archiveEntries, archiveEntry, readMetadata } from '../helpers/archive.js';
import { succeeded } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';

const recipe = shippedRecipe('kibana');
let kibana: KibanaStandIn;
let cluster: Cluster;

beforeAll(async () => {
  kibana = await startKibanaStandIn();
  cluster = await createCluster({ local: ['kibana'] });
});
afterAll(async () => {
  await kibana?.stop();
  await cluster?.cleanup();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${kibana.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'kbn-xsrf': 'test' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

const seeded = [
  { type: 'index-pattern', id: 'logs', attributes: { title: 'logs-*', timeFieldName: '@timestamp' }, references: [] },
  { type: 'visualization', id: 'errors-per-host', attributes: { title: 'Errors per host', visState: '{"type":"histogram"}' }, references: [{ type: 'index-pattern', id: 'logs', name: 'kibanaSavedObjectMeta.searchSourceJSON.index' }] },
  { type: 'dashboard', id: 'ops', attributes: { title: 'Operations "main"', panelsJSON: '[{"panelIndex":"1"}]' }, references: [{ type: 'visualization', id: 'errors-per-host', name: 'panel_0' }] },
];

/** The seeded objects as the server has them now (attributes and references only). */
async function current() {
  return Promise.all(seeded.map(async (o) => {
    const r = await call('GET', `/api/saved_objects/${o.type}/${o.id}`);
    return r.status === 200 ? { type: r.body.type, id: r.body.id, attributes: r.body.attributes, references: r.body.references } : `HTTP ${r.status}`;
  }));
}

describe('kibana recipe (Kibana STAND-IN, local host)', () => {
  it('exports saved objects and the config, and imports them back with overwrite', async () => {
    for (const o of seeded) expect((await call('POST', `/api/saved_objects/${o.type}/${o.id}`, { attributes: o.attributes, references: o.references })).status).toBe(200);
    expect(await current()).toEqual(seeded);

    await cluster.hostVars('localhost', { kibana_url: kibana.url, kibana_config_dir: kibana.configDir });
    const archive = await cluster.backup(recipe);
    expect((await readMetadata(archive)).components[0]).toMatchObject({ name: 'kibana', status: 'success', componentVersion: '7.10.2' });
    const lines = (await archiveEntry(archive, 'kibana/localhost/saved-objects.ndjson')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ exportedCount: 3 });
    expect((await archiveEntries(archive))).toContain(`kibana/localhost/files${kibana.configDir}/kibana.yml`);

    // Destroy: a dashboard deleted, a visualization changed, the config overwritten.
    const configFile = join(kibana.configDir, 'kibana.yml');
    const config = await readFile(configFile, 'utf8');
    await call('DELETE', '/api/saved_objects/dashboard/ops');
    await call('POST', '/api/saved_objects/visualization/errors-per-host?overwrite=true', { attributes: { title: 'changed' } });
    await writeFile(configFile, 'server.host: 0.0.0.0\n');
    expect(await current()).not.toEqual(seeded);

    const r = succeeded(await cluster.restore(archive));
    expect(r.stdout + r.stderr).not.toMatch(/unexpected error/);
    expect(await current()).toEqual(seeded);
    expect(await readFile(configFile, 'utf8')).toBe(config);
  });
});
