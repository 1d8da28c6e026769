// Kibana and Grafana here are STAND-INS (test/infra/standins/, Kibana 7.10.2 / Grafana 7.3.5 as
// LambdaStack installs them): nothing real runs on this machine. The client side is real: curl,
// as a recipe calls it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startKibanaStandIn, type KibanaStandIn } from './standins/kibana.js';
import { hostIPv4 } from './standins/self-signed.js';
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
    expect(
      (
        await curl([
          '-X',
          'POST',
          `${kb.url}/api/saved_objects/index-pattern/logs`,
          '-H',
          'Content-Type: application/json',
          '--data-binary',
          '{"attributes":{"title":"logs-*"}}',
        ])
      )[0],
    ).toBe(400); // no kbn-xsrf
    await curl(['-X', 'POST', `${kb.url}/api/saved_objects/index-pattern/logs`, ...json, '--data-binary', '{"attributes":{"title":"logs-*"}}']);
    await curl(['-X', 'POST', `${kb.url}/api/saved_objects/dashboard/d1`, ...json, '--data-binary', '{"attributes":{"title":"Overview"}}']);

    const [status, ndjson] = await curl([
      '-X',
      'POST',
      `${kb.url}/api/saved_objects/_export`,
      ...json,
      '--data-binary',
      '{"type":["index-pattern","dashboard"]}',
    ]);
    expect(status).toBe(200);
    const lines = ndjson
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
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

describe('Kibana stand-in: what Kibana 7.10 refuses', () => {
  let kb: KibanaStandIn;
  beforeAll(async () => (kb = await startKibanaStandIn()));
  afterAll(async () => kb?.stop());
  const json = ['-H', 'kbn-xsrf: true', '-H', 'Content-Type: application/json'];

  it('refuses to export a type it cannot export, with 400 and the type named', async () => {
    const [status, body] = await curl([
      '-X',
      'POST',
      `${kb.url}/api/saved_objects/_export`,
      ...json,
      '--data-binary',
      '{"type":["dashboard","canvas-workpad","lens"]}',
    ]);
    expect(status).toBe(400);
    expect(JSON.parse(body)).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Trying to export non-exportable type(s): canvas-workpad, lens' });
  });

  it('imports what it can and answers success:false with missing_references for an object whose index pattern is gone', async () => {
    const file = join(kb.baseDir, 'refs.ndjson');
    await writeFile(
      file,
      [
        { type: 'index-pattern', id: 'here', attributes: { title: 'here-*' }, references: [] },
        { type: 'search', id: 's-ok', attributes: { title: 'ok' }, references: [{ type: 'index-pattern', id: 'here', name: 'idx' }] },
        { type: 'search', id: 's-bad', attributes: { title: 'bad' }, references: [{ type: 'index-pattern', id: 'gone', name: 'idx' }] },
        // Only index-pattern and search references are checked (7.10's validate_references).
        { type: 'dashboard', id: 'd', attributes: { title: 'd' }, references: [{ type: 'visualization', id: 'absent', name: 'panel_0' }] },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n') + '\n',
    );
    const [status, body] = await curl(['-X', 'POST', `${kb.url}/api/saved_objects/_import?overwrite=true`, '-H', 'kbn-xsrf: true', '-F', `file=@${file}`]);
    expect(status).toBe(200);
    const answer = JSON.parse(body);
    expect(answer).toMatchObject({
      success: false,
      successCount: 3,
      errors: [{ id: 's-bad', type: 'search', error: { type: 'missing_references', references: [{ type: 'index-pattern', id: 'gone' }] } }],
    });
    expect((await curl([`${kb.url}/api/saved_objects/search/s-bad`]))[0]).toBe(404);
    expect((await curl([`${kb.url}/api/saved_objects/search/s-ok`]))[0]).toBe(200);
  });
});

describe('Kibana stand-in as LambdaStack runs it: host address, security plugin, tenants', () => {
  let kb: KibanaStandIn;
  beforeAll(async () => (kb = await startKibanaStandIn({ host: hostIPv4(), security: { user: 'admin', password: 'pw' } })));
  afterAll(async () => kb?.stop());

  it('listens on the host address that kibana.yml names, and wants credentials', async () => {
    expect(kb.url).toBe(`http://${hostIPv4()}:${kb.port}`);
    expect(await readFile(join(kb.configDir, 'kibana.yml'), 'utf8')).toContain(`server.host: "${hostIPv4()}"`);
    expect((await curl([`${kb.url}/api/status`]))[0]).toBe(401);
    expect((await curl(['-u', 'admin:wrong', `${kb.url}/api/status`]))[0]).toBe(401);
    expect((await curl(['-u', 'admin:pw', `${kb.url}/api/status`]))[0]).toBe(200);
  });

  it('keeps tenants apart; without a securitytenant header a call works in the private tenant', async () => {
    const as = (tenant?: string) => [
      '-u',
      'admin:pw',
      '-H',
      'kbn-xsrf: true',
      '-H',
      'Content-Type: application/json',
      ...(tenant ? ['-H', `securitytenant: ${tenant}`] : []),
    ];
    await curl(['-X', 'POST', `${kb.url}/api/saved_objects/dashboard/shared`, ...as('global'), '--data-binary', '{"attributes":{"title":"Shared"}}']);
    await curl(['-X', 'POST', `${kb.url}/api/saved_objects/dashboard/mine`, ...as(), '--data-binary', '{"attributes":{"title":"Mine"}}']);
    const ids = async (tenant?: string) =>
      (await curl(['-X', 'POST', `${kb.url}/api/saved_objects/_export`, ...as(tenant), '--data-binary', '{"type":"dashboard"}']))[1]
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((o) => o.id)
        .map((o) => o.id);
    expect(await ids('global')).toEqual(['shared']);
    expect(await ids('__global__')).toEqual(['shared']);
    expect(await ids()).toEqual(['mine']);
    expect(await ids('private')).toEqual(['mine']);
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
    const [, saved] = await curl([
      '-X',
      'POST',
      `${gf.url}/api/dashboards/db`,
      ...json,
      '--data-binary',
      JSON.stringify({ dashboard: { id: null, uid: 'nodes', title: 'Node overview', panels: [{ type: 'graph' }] }, overwrite: false }),
    ]);
    expect(JSON.parse(saved)).toMatchObject({ status: 'success', uid: 'nodes', version: 1 });
    const [, ds] = await curl([
      '-X',
      'POST',
      `${gf.url}/api/datasources`,
      ...json,
      '--data-binary',
      JSON.stringify({ name: 'Prometheus', type: 'prometheus', url: 'http://127.0.0.1:9090' }),
    ]);
    expect(JSON.parse(ds).message).toBe('Datasource added');
    expect(
      (await curl(['-X', 'POST', `${gf.url}/api/datasources`, ...json, '--data-binary', JSON.stringify({ name: 'Prometheus', type: 'prometheus' })]))[0],
    ).toBe(409);

    const search = JSON.parse((await curl([`${gf.authUrl}/api/search?type=dash-db`]))[1]);
    expect(search.map((s: { uid: string }) => s.uid)).toEqual(['nodes']);
    const exported = JSON.parse((await curl([`${gf.authUrl}/api/dashboards/uid/nodes`]))[1]).dashboard;

    // A second Grafana (fresh data dir): posting with the old id fails like Grafana; id: null works.
    const fresh = await startGrafanaStandIn({ password: 's3cret' });
    try {
      const post = (dashboard: unknown) =>
        curl(['-X', 'POST', `${fresh.url}/api/dashboards/db`, ...json, '--data-binary', JSON.stringify({ dashboard, overwrite: true })]);
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

describe('Grafana stand-in: what Grafana 7.3 never gives out, and HTTPS as LambdaStack sets it up', () => {
  let gf: GrafanaStandIn;
  beforeAll(async () => (gf = await startGrafanaStandIn({ password: 's3cret', tls: { expired: true } })));
  afterAll(async () => gf?.stop());

  it("serves an expired self-signed certificate for CN=localhost at LambdaStack's path: CA checks refuse it, its pinned key works", async () => {
    expect(gf.certFile).toBe(join(gf.configDir, 'ssl', 'grafana_cert.pem'));
    expect(gf.url).toMatch(/^https:/);
    expect((await runChecked('openssl', ['x509', '-in', gf.certFile!, '-noout', '-subject'])).stdout).toMatch(/CN ?= ?localhost/);
    const local = gf.url.replace('127.0.0.1', 'localhost');
    const refused = await runChecked('curl', ['-sS', '--cacert', gf.certFile!, `${local}/api/health`]).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/certificate has expired/);
    const key = (
      await runChecked('sh', [
        '-c',
        `openssl x509 -in '${gf.certFile}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
      ])
    ).stdout.trim();
    expect((await curl(['-k', '--pinnedpubkey', `sha256//${key}`, `${local}/api/health`]))[0]).toBe(200);
    expect(await readFile(join(gf.configDir, 'grafana.ini'), 'utf8')).toContain('protocol = https');
  });

  it('stores secureJsonData but never returns it: one datasource names the fields, the list not even that', async () => {
    const auth = ['-k', '-u', 'admin:s3cret', '-H', 'Content-Type: application/json'];
    const [, added] = await curl([
      '-X',
      'POST',
      `${gf.url}/api/datasources`,
      ...auth,
      '--data-binary',
      JSON.stringify({
        name: 'Logs',
        type: 'elasticsearch',
        url: 'https://es:9200',
        basicAuth: true,
        basicAuthUser: 'logstash',
        secureJsonData: { basicAuthPassword: 'never-shown' },
      }),
    ]);
    expect(added).not.toContain('never-shown');
    const id = JSON.parse(added).id;
    const [, one] = await curl([...auth, `${gf.url}/api/datasources/${id}`]);
    expect(one).not.toContain('never-shown');
    expect(JSON.parse(one)).toMatchObject({ name: 'Logs', basicAuthUser: 'logstash', secureJsonFields: { basicAuthPassword: true } });
    expect(JSON.parse(one)).not.toHaveProperty('secureJsonData');
    const [, list] = await curl([...auth, `${gf.url}/api/datasources`]);
    expect(list).not.toContain('never-shown');
    expect(JSON.parse(list)[0]).not.toHaveProperty('secureJsonFields');
    expect(JSON.parse(list)[0]).not.toHaveProperty('basicAuthUser');
    expect(JSON.parse((await curl([...auth, `${gf.url}/api/datasources/name/Logs`]))[1]).id).toBe(id);
  });
});
