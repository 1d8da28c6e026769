// Kibana and Grafana here are STAND-INS (test/infra/standins/): nothing real runs on this
// machine. The client side is real: curl, as a recipe calls it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startKibanaStandIn, type KibanaStandIn } from './standins/kibana.js';
import { startGrafanaStandIn, type GrafanaStandIn } from './standins/grafana.js';
import { runChecked } from './servers/common.js';

/** curl -s; returns [status, body text]. */
async function curl(args: string[]): Promise<[number, string]> {
  const out = (await runChecked('curl', ['-s', '-w', '\n%{http_code}', ...args])).stdout;
  const cut = out.lastIndexOf('\n');
  return [Number(out.slice(cut + 1)), out.slice(0, cut)];
}

describe('Kibana stand-in: saved objects export/import', () => {
  let kb: KibanaStandIn;
  beforeAll(async () => (kb = await startKibanaStandIn()));
  afterAll(async () => kb?.stop());

  it('exports ndjson and imports it back after the objects are gone', async () => {
    const json = ['-H', 'kbn-xsrf: true', '-H', 'Content-Type: application/json'];
    expect((await curl(['-X', 'POST', `${kb.url}/api/saved_objects/index-pattern/logs`, '-H', 'Content-Type: application/json',
      '--data-binary', '{"attributes":{"title":"logs-*"}}']))[0]).toBe(400); // no kbn-xsrf
    await curl(['-X', 'POST', `${kb.url}/api/saved_objects/index-pattern/logs`, ...json, '--data-binary', '{"attributes":{"title":"logs-*"}}']);
    await curl(['-X', 'POST', `${kb.url}/api/saved_objects/dashboard/d1`, ...json, '--data-binary', '{"attributes":{"title":"Overview"}}']);

    const [status, ndjson] = await curl(['-X', 'POST', `${kb.url}/api/saved_objects/_export`, ...json, '--data-binary', '{"type":["index-pattern","dashboard"]}']);
    expect(status).toBe(200);
    const lines = ndjson.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ exportedCount: 2 });
    const file = join(kb.baseDir, 'export.ndjson');
    await writeFile(file, ndjson);

    await curl(['-X', 'DELETE', `${kb.url}/api/saved_objects/dashboard/d1`, '-H', 'kbn-xsrf: true']);
    expect((await curl([`${kb.url}/api/saved_objects/dashboard/d1`]))[0]).toBe(404);

    // Without overwrite the surviving object conflicts; with it, all come back.
    const [, partial] = await curl(['-X', 'POST', `${kb.url}/api/saved_objects/_import`, '-H', 'kbn-xsrf: true', '-F', `file=@${file}`]);
    expect(JSON.parse(partial)).toMatchObject({ success: false, successCount: 1, errors: [{ id: 'logs', error: { type: 'conflict' } }] });
    const [, full] = await curl(['-X', 'POST', `${kb.url}/api/saved_objects/_import?overwrite=true`, '-H', 'kbn-xsrf: true', '-F', `file=@${file}`]);
    expect(JSON.parse(full)).toMatchObject({ success: true, successCount: 2 });
    expect(JSON.parse((await curl([`${kb.url}/api/saved_objects/dashboard/d1`]))[1]).attributes.title).toBe('Overview');
  });
});

describe('Grafana stand-in: dashboards and datasources behind basic auth', () => {
  let gf: GrafanaStandIn;
  beforeAll(async () => (gf = await startGrafanaStandIn({ password: 's3cret' })));
  afterAll(async () => gf?.stop());

  it('refuses requests without the right credentials', async () => {
    expect((await curl([`${gf.url}/api/search`]))[0]).toBe(401);
    expect((await curl(['-u', 'admin:wrong', `${gf.url}/api/search`]))[0]).toBe(401);
  });

  it('saves, lists, exports and re-imports a dashboard and a datasource; state survives a restart', async () => {
    const json = ['-u', 'admin:s3cret', '-H', 'Content-Type: application/json'];
    const [, saved] = await curl(['-X', 'POST', `${gf.url}/api/dashboards/db`, ...json, '--data-binary',
      JSON.stringify({ dashboard: { id: null, uid: 'nodes', title: 'Node overview', panels: [{ type: 'graph' }] }, overwrite: false })]);
    expect(JSON.parse(saved)).toMatchObject({ status: 'success', uid: 'nodes', version: 1 });
    const [, ds] = await curl(['-X', 'POST', `${gf.url}/api/datasources`, ...json, '--data-binary',
      JSON.stringify({ name: 'Prometheus', type: 'prometheus', url: 'http://127.0.0.1:9090' })]);
    expect(JSON.parse(ds).message).toBe('Datasource added');
    expect((await curl(['-X', 'POST', `${gf.url}/api/datasources`, ...json, '--data-binary', JSON.stringify({ name: 'Prometheus', type: 'prometheus' })]))[0]).toBe(409);

    const search = JSON.parse((await curl([`${gf.authUrl}/api/search?type=dash-db`]))[1]);
    expect(search.map((s: { uid: string }) => s.uid)).toEqual(['nodes']);
    const exported = JSON.parse((await curl([`${gf.authUrl}/api/dashboards/uid/nodes`]))[1]).dashboard;

    // A second Grafana (fresh data dir): posting with the old id fails like Grafana; id: null works.
    const fresh = await startGrafanaStandIn({ password: 's3cret' });
    try {
      const post = (dashboard: unknown) => curl(['-X', 'POST', `${fresh.url}/api/dashboards/db`, ...json, '--data-binary', JSON.stringify({ dashboard, overwrite: true })]);
      expect((await post(exported))[0]).toBe(404);
      expect((await post({ ...exported, id: null }))[0]).toBe(200);
      expect(JSON.parse((await curl([`${fresh.authUrl}/api/dashboards/uid/nodes`]))[1]).dashboard.panels).toEqual([{ type: 'graph' }]);
    } finally {
      await fresh.stop();
    }

    // Restart on the same base dir: grafana.json brings everything back.
    const baseDir = gf.baseDir;
    const again = await startGrafanaStandIn({ baseDir, password: 's3cret' });
    try {
      expect(JSON.parse((await curl([`${again.authUrl}/api/datasources`]))[1])[0].name).toBe('Prometheus');
      expect(JSON.parse((await curl([`${again.authUrl}/api/dashboards/uid/nodes`]))[1]).dashboard.title).toBe('Node overview');
    } finally {
      await again.stop();
    }
  });
});
