/**
 * recipes/kibana.yaml round trips. Kibana here is a STAND-IN (test/infra/standins/kibana.ts,
 * Kibana OSS 7.10.2 as Open Distro 1.13 ships it): nothing real can run on this machine. It
 * speaks the saved-objects export/import API (ndjson, multipart upload, kbn-xsrf), refuses
 * types it cannot export and leaves out objects whose references are missing, as 7.10 does; the
 * recipe and curl are what runs against Kibana. Host: the local host (ansible_connection=local),
 * as root through sudo.
 * - Debian default: Kibana on 127.0.0.1, no security plugin.
 * - LambdaStack: Kibana on the host's own IPv4 (not localhost), security plugin with the logging
 *   admin password (taken from manifest.yml through profiles/lambdastack.yaml, no --var and no
 *   secret in the environment) and tenants.
 * - A restored configuration: Kibana restarted on it only when it changed (the stand-in reads
 *   kibana.yml at each start and refuses unknown settings, as Kibana does), and the previous
 *   configuration put back when Kibana does not start with the restored one.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKibanaStandIn, type KibanaStandIn } from '../infra/index.js';
import { hostIPv4 } from '../infra/standins/self-signed.js';
import { archiveEntries, archiveEntry, readMetadata } from '../helpers/archive.js';
import { cliOutput, jsonEvents, stepEnd, succeeded } from '../helpers/cli.js';
import { backupWithUnreadEdit } from '../helpers/config-edit.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';

const recipe = shippedRecipe('kibana');

interface Seed {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: Array<{ type: string; id: string; name: string }>;
}

const seeded: Seed[] = [
  { type: 'index-pattern', id: 'logs', attributes: { title: 'logs-*', timeFieldName: '@timestamp' }, references: [] },
  {
    type: 'visualization',
    id: 'errors-per-host',
    attributes: { title: 'Errors per host', visState: '{"type":"histogram"}' },
    references: [{ type: 'index-pattern', id: 'logs', name: 'kibanaSavedObjectMeta.searchSourceJSON.index' }],
  },
  {
    type: 'dashboard',
    id: 'ops',
    attributes: { title: 'Operations "main"', panelsJSON: '[{"panelIndex":"1"}]' },
    references: [{ type: 'visualization', id: 'errors-per-host', name: 'panel_0' }],
  },
];

/** A client of one stand-in, as a user of one tenant (undefined: no header, the preferred tenant). */
function client(kibana: KibanaStandIn, auth?: { user: string; password: string }, tenant?: string) {
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${kibana.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        'kbn-xsrf': 'test',
        ...(auth ? { authorization: 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64') } : {}),
        ...(tenant ? { securitytenant: tenant } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  };
  const seed = async (objects: Seed[]) => {
    for (const o of objects)
      expect((await call('POST', `/api/saved_objects/${o.type}/${o.id}?overwrite=true`, { attributes: o.attributes, references: o.references })).status).toBe(
        200,
      );
  };
  /** The objects as the server has them now (attributes and references only). */
  const current = (objects: Seed[]) =>
    Promise.all(
      objects.map(async (o) => {
        const r = await call('GET', `/api/saved_objects/${o.type}/${o.id}`);
        return r.status === 200 ? { type: r.body.type, id: r.body.id, attributes: r.body.attributes, references: r.body.references } : `HTTP ${r.status}`;
      }),
    );
  return { call, seed, current };
}

describe('kibana recipe, Debian default (Kibana STAND-IN on 127.0.0.1, no security plugin)', () => {
  let kibana: KibanaStandIn;
  let cluster: Cluster;
  beforeAll(async () => {
    kibana = await startKibanaStandIn();
    // No security plugin, and no password set anywhere: the optional secret is empty, no credentials are sent.
    cluster = await createCluster({ local: ['kibana'] });
  });
  afterAll(async () => {
    await kibana?.stop();
    await cluster?.cleanup();
  });

  it('exports saved objects and the config from where kibana.yml says, and imports them back with overwrite', async () => {
    const { call, seed, current } = client(kibana);
    await seed(seeded);
    expect(await current(seeded)).toEqual(seeded);

    // Only the config dir (and how to restart): the URL comes from kibana.yml (server.host, server.port).
    await cluster.hostVars('localhost', { kibana_config_dir: kibana.configDir, kibana_restart_command: kibana.restartCommand });
    const archive = await cluster.backup(recipe);
    expect((await readMetadata(archive)).components[0]).toMatchObject({ name: 'kibana', status: 'success', componentVersion: '7.10.2' });
    const lines = (await archiveEntry(archive, 'kibana/localhost/saved-objects.ndjson'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ exportedCount: 3 });
    expect(await archiveEntries(archive)).toContain(`kibana/localhost/files${kibana.configDir}/kibana.yml`);

    // Destroy: a dashboard deleted, a visualization changed, the config overwritten (with the
    // same address: the running Kibana listens where it listened).
    const configFile = join(kibana.configDir, 'kibana.yml');
    const config = await readFile(configFile, 'utf8');
    await call('DELETE', '/api/saved_objects/dashboard/ops');
    await call('POST', '/api/saved_objects/visualization/errors-per-host?overwrite=true', { attributes: { title: 'changed' } });
    await writeFile(configFile, `${config}logging.verbose: true\n`);
    expect(await current(seeded)).not.toEqual(seeded);

    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(r.stdout + r.stderr).not.toMatch(/unexpected error/);
    expect(await current(seeded)).toEqual(seeded);
    expect(await readFile(configFile, 'utf8')).toBe(config);
    // The configuration changed since the backup: Kibana restarted on the restored one.
    expect(kibana.restarts()).toBe(1);
    expect(kibana.settings()['logging.verbose']).toBeUndefined();
    expect(stepEnd(r, 'restart Kibana').stdout).toBe(`kibana: restarted on the restored configuration; it answers at ${kibana.url}`);
  });

  it("round-trips the recipe's test dashboard through recipe test; the other saved objects stay as they were", async () => {
    const { current } = client(kibana);
    const testDashboard: Seed = { type: 'dashboard', id: 'lsbackup-recipe-test', attributes: {}, references: [] };
    await cluster.hostVars('localhost', { kibana_config_dir: kibana.configDir });
    await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    expect(await current(seeded)).toEqual(seeded);
    expect(await current([testDashboard])).toEqual([
      { ...testDashboard, attributes: { title: 'lsbackup-recipe-test', description: 'seeded by lsbackup recipe test' } },
    ]);
  });

  it("a type this Kibana cannot export fails the backup with Kibana's message and the var to change", async () => {
    await cluster.hostVars('localhost', { kibana_config_dir: kibana.configDir, kibana_saved_object_types: ['dashboard', 'canvas-workpad'] });
    const r = await cluster.apply(recipe);
    expect(r.exitCode, cliOutput(r)).toBe(1); // the only component failed: no archive
    expect(r.archive).toBeUndefined();
    expect(cliOutput(r)).toContain('Trying to export non-exportable type(s): canvas-workpad');
    expect(cliOutput(r)).toContain('set kibana_saved_object_types');
  });
});

describe('kibana recipe, LambdaStack (Kibana STAND-IN on the host IPv4, security plugin, tenants; values from manifest.yml)', () => {
  const ADMIN = { user: 'admin', password: 'logging-admin-"pw\\-5521' };
  let kibana: KibanaStandIn;
  let cluster: Cluster;
  beforeAll(async () => {
    kibana = await startKibanaStandIn({ host: hostIPv4(), security: ADMIN });
    cluster = await createCluster({ local: ['kibana'], hostVars: { localhost: { kibana_config_dir: kibana.configDir } } });
    // manifest.yml as lscli saves it: the logging admin password reaches the recipe as a secret.
    await writeFile(
      join(cluster.build, 'manifest.yml'),
      [
        'kind: configuration/logging',
        'name: default',
        'specification:',
        `  admin_password: '${ADMIN.password}'`,
        '  paths: { data: /var/lib/elasticsearch, repo: /var/lib/elasticsearch-snapshots, logs: /var/log/elasticsearch }',
        '---',
        'kind: configuration/kibana',
        'name: default',
        'specification:',
        '  kibana_log_dir: /var/log/kibana',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await kibana?.stop();
    await cluster?.cleanup();
  });

  it("backs up the global tenant (not the admin's private one) with the manifest's password and restores it", async () => {
    expect(new URL(kibana.url).hostname).not.toBe('127.0.0.1');
    expect((await client(kibana).call('GET', '/api/status')).status).toBe(401);
    const global = client(kibana, ADMIN, 'global');
    const personal = client(kibana, ADMIN); // no header: the preferred (private) tenant
    const mine: Seed = { type: 'dashboard', id: 'mine', attributes: { title: 'Private scratch' }, references: [] };
    await global.seed(seeded);
    await personal.seed([mine]);

    const archive = await cluster.backup(recipe);
    const meta = await readMetadata(archive);
    expect(meta.components[0]).toMatchObject({ name: 'kibana', status: 'success', componentVersion: '7.10.2' });
    const exported = (await archiveEntry(archive, 'kibana/localhost/saved-objects.ndjson'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(
      exported
        .slice(0, -1)
        .map((o) => o.id)
        .sort(),
    ).toEqual(['errors-per-host', 'logs', 'ops']);
    expect(await readFile(`${archive}.metadata.json`, 'utf8')).not.toContain(ADMIN.password);

    await global.call('DELETE', '/api/saved_objects/dashboard/ops');
    await global.call('DELETE', '/api/saved_objects/visualization/errors-per-host');
    const r = succeeded(await cluster.restore(archive));
    expect(r.stdout + r.stderr).not.toContain(ADMIN.password);
    expect(await global.current(seeded)).toEqual(seeded);
    // Imported into the global tenant, not the private one.
    expect((await personal.current(seeded)).every((o) => o === 'HTTP 404')).toBe(true);
  });

  it("round-trips the recipe's test dashboard through recipe test in the global tenant, with the manifest's password", async () => {
    const global = client(kibana, ADMIN, 'global');
    const testDashboard: Seed = { type: 'dashboard', id: 'lsbackup-recipe-test', attributes: {}, references: [] };
    const run = await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    expect(run.stdout + run.stderr).not.toContain(ADMIN.password);
    expect(await global.current([testDashboard])).toEqual([
      { ...testDashboard, attributes: { title: 'lsbackup-recipe-test', description: 'seeded by lsbackup recipe test' } },
    ]);
    expect(await client(kibana, ADMIN).current([testDashboard])).toEqual(['HTTP 404']);
  });

  it('an import Kibana answers with success:false (missing index pattern) fails the component, naming the object', async () => {
    const global = client(kibana, ADMIN, 'global');
    // A saved search whose index pattern was deleted before the backup: Kibana keeps the
    // dangling reference, exports the search, and refuses it on import.
    const orphan: Seed = {
      type: 'search',
      id: 'orphan',
      attributes: { title: 'Errors of a gone pattern' },
      references: [{ type: 'index-pattern', id: 'gone', name: 'kibanaSavedObjectMeta.searchSourceJSON.index' }],
    };
    await global.seed([{ type: 'index-pattern', id: 'gone', attributes: { title: 'gone-*' }, references: [] }, orphan]);
    await global.call('DELETE', '/api/saved_objects/index-pattern/gone');
    const archive = await cluster.backup(recipe);
    await global.call('DELETE', '/api/saved_objects/search/orphan');

    const r = await cluster.restore(archive);
    expect(r.exitCode, cliOutput(r)).toBe(1); // the only component failed
    expect(cliOutput(r)).toMatch(/kibana: failed/);
    expect(cliOutput(r)).toContain('did not import every saved object');
    expect(cliOutput(r)).toContain('"id":"orphan"');
    expect(cliOutput(r)).toContain('missing_references');
    // Everything else came back; the orphan did not (as with Kibana).
    expect(await global.current(seeded)).toEqual(seeded);
    expect((await global.call('GET', '/api/saved_objects/search/orphan')).status).toBe(404);
  });
});

describe('kibana recipe, a restored configuration (Kibana STAND-IN restarted by its restart command)', () => {
  let kibana: KibanaStandIn;
  let cluster: Cluster;
  /** kibana_tmp_dir: where restore keeps the configuration it replaces. */
  let aside: string;
  let configFile: string;
  beforeAll(async () => {
    cluster = await createCluster({ local: ['kibana'] });
    aside = await mkdtemp(join(tmpdir(), 'lsb-kibana-aside-'));
  });
  beforeEach(async () => {
    kibana = await startKibanaStandIn();
    configFile = join(kibana.configDir, 'kibana.yml');
    await client(kibana).seed(seeded);
    await cluster.hostVars('localhost', {
      kibana_config_dir: kibana.configDir,
      kibana_restart_command: kibana.restartCommand,
      kibana_tmp_dir: aside,
      // Kibana refusing its configuration never answers: the restore waits this long.
      kibana_ready_timeout: 10,
    });
  });
  afterEach(async () => {
    await kibana?.stop();
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await rm(aside, { recursive: true, force: true });
  });

  it('restarts Kibana when the restored configuration differs from the one in place, and Kibana runs with it', async () => {
    const { archive } = await backupWithUnreadEdit(cluster, recipe, configFile, 'logging.verbose: true\n');
    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(kibana.restarts()).toBe(1);
    expect(kibana.running()).toBe(true);
    expect(kibana.settings()['logging.verbose']).toBe(true);
    expect(stepEnd(r, 'restart Kibana')).toEqual({
      status: 'success',
      stdout: `kibana: restarted on the restored configuration; it answers at ${kibana.url}`,
      stderr: '',
    });
    expect(await client(kibana).current(seeded)).toEqual(seeded);
    expect(await readdir(aside)).toEqual([]);
  });

  it('does not restart Kibana when the restored configuration is the one in place', async () => {
    const archive = await cluster.backup(recipe);
    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(kibana.restarts()).toBe(0);
    expect(stepEnd(r, 'restart Kibana').stdout).toBe('kibana: the restored configuration is the one that was in place: Kibana not restarted');
    expect(await readdir(aside)).toEqual([]);
  });

  it('puts the previous configuration back when Kibana does not start with the restored one, restarts Kibana on it, and fails', async () => {
    // The backup holds a setting Kibana does not know, and a file the host no longer has.
    const extra = join(kibana.configDir, 'node.options');
    await writeFile(extra, '--max-old-space-size=512\n');
    const { archive, config } = await backupWithUnreadEdit(cluster, recipe, configFile, 'lsbackup_no_such.setting: 1\n');
    await rm(extra);

    const r = await cluster.restore(archive, ['--json']);
    expect(r.exitCode, cliOutput(r)).toBe(1);
    const step = stepEnd(r, 'restart Kibana');
    expect(step.status).toBe('failed');
    expect(step.stderr).toBe(
      `kibana: Kibana did not answer ${kibana.url}/api/status within 10s of its restart (last: no answer): it did not start with the restored configuration` +
        ` (its log says why, e.g. journalctl -u kibana). The configuration from before the restore is back in ${kibana.configDir},` +
        ` and Kibana was restarted on it: it answers at ${kibana.url}`,
    );
    // Kibana refused the restored file (its log says why), then started on the previous one.
    expect(await readFile(kibana.logFile, 'utf8')).toContain('Unknown configuration key(s): "lsbackup_no_such.setting"');
    expect(kibana.restarts()).toBe(2);
    expect(kibana.running()).toBe(true);
    expect(await readFile(configFile, 'utf8')).toBe(config);
    expect(await readdir(kibana.configDir)).toEqual(['kibana.yml']);
    // The saved objects were imported before the configuration step, and stay.
    expect(await client(kibana).current(seeded)).toEqual(seeded);
    expect(await readdir(aside)).toEqual([]);
  });

  it('with kibana_restart_command empty, restores a changed configuration with a warning that it takes effect at the next start', async () => {
    const { archive } = await backupWithUnreadEdit(cluster, recipe, configFile, 'logging.verbose: true\n');
    await cluster.hostVars('localhost', { kibana_config_dir: kibana.configDir, kibana_restart_command: '', kibana_tmp_dir: aside });
    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(stepEnd(r, 'restart Kibana').stderr).toBe(
      'kibana: the restored configuration takes effect when Kibana next starts (kibana_restart_command is empty)',
    );
    expect(jsonEvents<{ message: string }>(r.stdout, 'warning').map((w) => w.message)).toEqual([
      expect.stringContaining('takes effect when Kibana next starts'),
    ]);
    expect(kibana.restarts()).toBe(0);
    expect(await readFile(configFile, 'utf8')).toContain('logging.verbose: true');
  });
});
