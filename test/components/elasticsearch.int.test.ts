/**
 * recipes/elasticsearch.yaml round trips. Elasticsearch here is a STAND-IN
 * (test/infra/standins/elasticsearch.ts, imitating ES 7.10.2 + Open Distro 1.13): nothing real
 * can run on this machine. It keeps the repository generation in cluster state as ES does,
 * answers IN_PROGRESS before a snapshot ends, can end it PARTIAL or FAILED, and with security
 * speaks HTTPS with LambdaStack's certificates and Open Distro's rules; the recipe, curl and the
 * tar of the repository directory are exactly what runs against the real thing.
 * Host: the local host (ansible_connection=local), as root through sudo.
 * A restored configuration restarts the node only when it changed (the stand-in reads
 * elasticsearch.yml at each start and refuses unknown settings, as Elasticsearch does); one the
 * node does not start with is replaced by the previous configuration.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startElasticsearchStandIn, type ElasticsearchStandIn } from '../infra/index.js';
import { archiveEntries, archiveEntry, componentOf, hostOf, readMetadata } from '../helpers/archive.js';
import { cliOutput, stepEnd, succeeded } from '../helpers/cli.js';
import { backupWithUnreadEdit } from '../helpers/config-edit.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';

const recipe = shippedRecipe('elasticsearch');
// A Debian-default Elasticsearch has no security plugin: the password secret is empty.
const NO_PASSWORD = { LOGGING_ADMIN_PASSWORD: '' };
const NOBODY = 65534;

const docs = {
  'logs-2024.01': { a: { msg: 'first', level: 'info' }, b: { msg: 'second', level: 'warn' } },
  users: { u1: { name: 'ann' }, u2: { name: 'bob' } },
  // Kibana's saved objects live in a hidden index.
  '.kibana_1': { 'dashboard:1': { title: 'ops' } },
};

async function load(es: ElasticsearchStandIn): Promise<void> {
  expect((await es.request('PUT', '/.kibana_1', { settings: { 'index.hidden': true } })).status).toBe(200);
  for (const [index, byId] of Object.entries(docs)) {
    for (const [id, doc] of Object.entries(byId)) expect((await es.request('PUT', `/${index}/_doc/${id}`, doc)).status).toBe(201);
  }
}

async function allDocs(es: ElasticsearchStandIn): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [index, byId] of Object.entries(docs)) {
    out[index] = {};
    for (const id of Object.keys(byId)) {
      const r = await es.request('GET', `/${index}/_doc/${id}`);
      out[index]![id] = r.status === 200 ? r.body._source : `HTTP ${r.status}`;
    }
  }
  return out;
}

/** Deletes one index, changes a document of another and of the hidden one. */
async function destroy(es: ElasticsearchStandIn): Promise<void> {
  expect((await es.request('DELETE', '/users')).status).toBe(200);
  expect((await es.request('PUT', '/logs-2024.01/_doc/a', { msg: 'overwritten' })).status).toBe(200);
  expect((await es.request('PUT', '/.kibana_1/_doc/dashboard:1', { title: 'lost' })).status).toBe(200);
}

describe('elasticsearch recipe, Debian-default Elasticsearch (plain HTTP, no security; STAND-IN)', () => {
  let es: ElasticsearchStandIn;
  let cluster: Cluster;
  beforeAll(async () => {
    es = await startElasticsearchStandIn();
    cluster = await createCluster({ local: ['logging'], env: NO_PASSWORD });
    await cluster.hostVars('localhost', {
      elasticsearch_url: es.url,
      elasticsearch_path_repo: es.pathRepo[0],
      elasticsearch_config_dir: es.configDir,
      elasticsearch_restart_command: es.restartCommand,
    });
  });
  afterAll(async () => {
    await es?.stop();
    await cluster?.cleanup();
  });

  it('snapshots (polling until SUCCESS), collects the repository, and restores into the cluster that has moved on to a newer repository generation', async () => {
    await load(es);
    const before = await allDocs(es);
    expect(before).toEqual(docs);

    const archive = await cluster.backup(recipe);
    const meta = await readMetadata(archive);
    expect(meta.components[0]).toMatchObject({ name: 'elasticsearch', status: 'success', componentVersion: '7.10.2' });
    // The snapshot answered IN_PROGRESS first: the recipe polled instead of taking the first answer.
    expect(es.inProgressAnswers()).toBeGreaterThan(0);
    const snapshot = JSON.parse(await archiveEntry(archive, 'elasticsearch/localhost/snapshot.json'));
    expect(snapshot.snapshots[0].state).toBe('SUCCESS');
    expect(snapshot.snapshots[0].indices.sort()).toEqual(['.kibana_1', 'logs-2024.01', 'users']);
    const repo = join(es.pathRepo[0]!, 'lsbackup');
    const entries = await archiveEntries(archive);
    expect(entries).toContain(`elasticsearch/localhost/files${repo}/snap-${snapshot.snapshots[0].uuid}.dat`);
    expect(entries).toContain(`elasticsearch/localhost/files${es.configDir}/elasticsearch.yml`);
    // The temporary snapshot is gone from the live repository (post-step): the cluster is now at
    // a newer generation than the one in the archive.
    expect((await es.request('GET', `/_snapshot/lsbackup/${snapshot.snapshots[0].snapshot}`)).status).toBe(404);
    expect((await readdir(repo)).filter((f) => f.startsWith('snap-'))).toEqual([]);
    const seen = es.repository('lsbackup')!.generation as number;
    expect(entries).toContain(`elasticsearch/localhost/files${repo}/index-${seen - 1}`);

    await destroy(es);
    const config = await readFile(join(es.configDir, 'elasticsearch.yml'), 'utf8');
    await rm(join(es.configDir, 'elasticsearch.yml'));
    expect(await allDocs(es)).not.toEqual(before);

    // path.repo belongs to Elasticsearch's user (LambdaStack: elasticsearch); the files the
    // restore puts back must be writable by it, whoever owned them in the archive.
    await chown(es.pathRepo[0]!, NOBODY, NOBODY);
    const r = await cluster.restore(archive);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await allDocs(es)).toEqual(before);
    expect(await readFile(join(es.configDir, 'elasticsearch.yml'), 'utf8')).toBe(config);
    // The configuration had changed (its file was gone): the node restarted on the restored one.
    expect(es.restarts()).toBe(1);
    // (Files the stand-in, running as root, wrote since then are root's: check what was put back.)
    for (const f of [repo, join(repo, 'index.latest')]) expect((await stat(f)).uid, f).toBe(NOBODY);
    const indices = (await es.request('GET', '/_cat/indices?format=json')).body as Array<{ index: string; status: string }>;
    expect(indices.map((i) => [i.index, i.status]).sort()).toEqual([
      ['.kibana_1', 'open'],
      ['logs-2024.01', 'open'],
      ['users', 'open'],
    ]);
    // The repository is usable afterwards, and holds no lsbackup snapshot (restore's post-step).
    expect(es.repository('lsbackup')).toMatchObject({ corrupted: false });
    expect((await es.request('GET', '/_snapshot/lsbackup/_all')).body.snapshots).toEqual([]);
    succeeded(await cluster.apply(recipe), 'a second backup after the restore');
  });

  it('restores a logging cluster with an index a day: the indices are closed in requests ES accepts (request line under 4 KB)', async () => {
    const many = await startElasticsearchStandIn();
    const manyCluster = await createCluster({ local: ['logging'], env: NO_PASSWORD });
    try {
      const names = Array.from(
        { length: 160 },
        (_, i) => `filebeat-7.10.2-2026.${String(1 + Math.floor(i / 28)).padStart(2, '0')}.${String(1 + (i % 28)).padStart(2, '0')}`,
      );
      expect(names.join(',').length).toBeGreaterThan(4096);
      for (const n of names) expect((await many.request('PUT', `/${n}/_doc/1`, { day: n })).status).toBe(201);
      await manyCluster.hostVars('localhost', {
        elasticsearch_url: many.url,
        elasticsearch_path_repo: many.pathRepo[0],
        elasticsearch_config_dir: many.configDir,
      });
      const archive = await manyCluster.backup(recipe);
      for (const n of names.slice(0, 3)) await many.request('DELETE', `/${n}`);
      await many.request('PUT', `/${names.at(-1)}/_doc/1`, { day: 'changed' });
      const r = await manyCluster.restore(archive);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      for (const n of [...names.slice(0, 3), names.at(-1)!]) expect((await many.request('GET', `/${n}/_doc/1`)).body._source).toEqual({ day: n });
      const open = (await many.request('GET', '/_cat/indices')).body.filter((i: { status: string }) => i.status === 'open');
      expect(open).toHaveLength(names.length);
    } finally {
      await many.stop();
      await manyCluster.cleanup();
    }
  });

  it('round-trips through recipe test: the marker index deleted after the backup holds its document again', async () => {
    await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    expect((await es.request('GET', '/lsbackup-recipe-test/_doc/1')).body._source).toEqual({ marker: 'lsbackup-recipe-test' });
    // The other indices went through the same snapshot and restore and are as they were.
    expect(await allDocs(es)).toEqual(docs);
  });

  it.each(['PARTIAL', 'FAILED'] as const)(
    'a snapshot that ends %s fails the component (exit 2) with the state and the failed shards, and is deleted',
    async (state) => {
      es.setSnapshotOutcome(state);
      try {
        // With a component that works (host-basics), the run is partial: the archive is kept.
        const run = await cluster.apply([recipe, shippedRecipe('host-basics')]);
        expect(run.exitCode, cliOutput(run)).toBe(2);
        const component = componentOf(run.metadata!, 'elasticsearch');
        expect(component.status).toBe('failed');
        const error = hostOf(component, 'localhost').error ?? '';
        expect(error).toContain(`ended ${state}`);
        expect(error).toMatch(/IndexShardSnapshotFailedException/);
        expect((await es.request('GET', '/_snapshot/lsbackup/_all')).body.snapshots).toEqual([]);
      } finally {
        es.setSnapshotOutcome('SUCCESS');
      }
    },
  );
});

describe('elasticsearch recipe, LambdaStack-shaped Open Distro (HTTPS at the host name, its certificates, security plugin; STAND-IN)', () => {
  const MANIFEST_PASSWORD = 'Logging-Admin-pw "quoted" \\ 7';

  /** A build dir as LambdaStack writes it: the manifest gives the repository and the admin password. */
  async function lambdaStackCluster(es: ElasticsearchStandIn, group: string, kind: string, password: string): Promise<Cluster> {
    const cluster = await createCluster({ local: [group] });
    await writeFile(
      join(cluster.build, 'manifest.yml'),
      [
        'kind: lambdastack-cluster',
        'name: prod',
        'specification: { name: prod }',
        '---',
        `kind: ${kind}`,
        'name: default',
        'specification:',
        `  admin_password: ${JSON.stringify(password)}`,
        '  paths:',
        `    repo: ${es.pathRepo[0]}`,
        '',
      ].join('\n'),
    );
    // Only what differs on this machine: the port (9200 may be taken), and where the stand-in
    // keeps /etc/elasticsearch. URL scheme and host, user, file names and password: defaults and manifest.
    const certs = es.certs!;
    await cluster.hostVars('localhost', {
      elasticsearch_port: es.port,
      elasticsearch_config_dir: es.configDir,
      elasticsearch_cacert: certs.rootCa,
      elasticsearch_cert: certs.adminCert,
      elasticsearch_key: certs.adminKey,
    });
    return cluster;
  }

  it("backs up and restores with the manifest's admin password while the admin certificate has expired, leaving the security index as it is", async () => {
    const es = await startElasticsearchStandIn({ security: { adminPassword: MANIFEST_PASSWORD, adminExpired: true } });
    const cluster = await lambdaStackCluster(es, 'logging', 'configuration/logging', MANIFEST_PASSWORD);
    try {
      // As on a LambdaStack cluster today: the admin certificate no longer gets through TLS.
      await expect(es.request('GET', '/', undefined, { cert: true })).rejects.toThrow();
      expect((await es.request('GET', '/', undefined, { password: 'wrong' })).status).toBe(401);
      await load(es);
      const before = await allDocs(es);

      const run = succeeded(await cluster.apply(recipe));
      const archive = run.archive!;
      expect(componentOf(run.metadata!, 'elasticsearch')).toMatchObject({ status: 'success', componentVersion: '7.10.2' });
      const snapshot = JSON.parse(await archiveEntry(archive, 'elasticsearch/localhost/snapshot.json'));
      expect(snapshot.snapshots[0].indices).toContain('.opendistro_security');
      expect(run.stdout + run.stderr + JSON.stringify(run.metadata)).not.toContain('Logging-Admin-pw');

      // The cluster's admin password changed after the backup (e.g. a rebuilt cluster).
      expect((await es.request('PUT', '/_opendistro/_security/api/internalusers/admin', { password: 'new-pw' })).status).toBe(200);
      await destroy(es);
      await writeFile(
        join(cluster.build, 'manifest.yml'),
        (await readFile(join(cluster.build, 'manifest.yml'), 'utf8')).replace(JSON.stringify(MANIFEST_PASSWORD), 'new-pw'),
      );

      const r = await cluster.restore(archive);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(r.stdout + r.stderr).not.toContain('new-pw');
      expect(await allDocs(es)).toEqual(before);
      // Not clobbered: the cluster's current users still log in, the old password does not.
      expect((await es.request('GET', '/_cluster/health', undefined, { password: 'new-pw' })).status).toBe(200);
      expect((await es.request('GET', '/_cluster/health', undefined, { password: MANIFEST_PASSWORD })).status).toBe(401);
      // The recipe's own round trip, as basic auth with the manifest's (now current) password.
      await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    } finally {
      await es.stop();
      await cluster.cleanup();
    }
  });

  it('uses the admin certificate when no password is given, on a host of the opendistro_for_elasticsearch group', async () => {
    const es = await startElasticsearchStandIn({ security: { adminPassword: 'cluster-pw' } });
    const cluster = await lambdaStackCluster(es, 'opendistro_for_elasticsearch', 'configuration/opendistro-for-elasticsearch', '');
    try {
      await load(es);
      const before = await allDocs(es);
      const archive = await cluster.backup(recipe);
      expect(componentOf(await readMetadata(archive), 'elasticsearch').status).toBe('success');
      expect((await es.request('PUT', '/_opendistro/_security/api/internalusers/admin', { password: 'changed-pw' })).status).toBe(200);
      await destroy(es);
      succeeded(await cluster.restore(archive));
      expect(await allDocs(es)).toEqual(before);
      // Even the admin certificate, which may restore it, leaves the security index alone.
      expect((await es.request('GET', '/_cluster/health', undefined, { password: 'changed-pw' })).status).toBe(200);
      // The recipe's own round trip, as the admin certificate.
      await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    } finally {
      await es.stop();
      await cluster.cleanup();
    }
  });
});

describe('elasticsearch recipe, OpenSearch layout (STAND-IN)', () => {
  it('works with OpenSearch paths and another repository name, used identically by backup and restore', async () => {
    // OpenSearch layout: path.repo /var/lib/opensearch-snapshots, config /usr/share/opensearch/config.
    const root = await mkdtemp(join(tmpdir(), 'lsb-opensearch-'));
    const os = await startElasticsearchStandIn({ baseDir: root, pathRepo: [join(root, 'var/lib/opensearch-snapshots')] });
    const osCluster = await createCluster({ local: ['logging'], env: NO_PASSWORD });
    try {
      const configDir = join(root, 'usr/share/opensearch/config');
      await mkdir(configDir, { recursive: true });
      await writeFile(join(configDir, 'opensearch.yml'), `path.repo: ["${os.pathRepo[0]}"]\n`);
      await osCluster.hostVars('localhost', {
        elasticsearch_url: os.url,
        elasticsearch_path_repo: os.pathRepo[0],
        elasticsearch_config_dir: configDir,
        elasticsearch_repository: 'nightly',
      });
      // The recipe's tests: a marker index backed up, deleted, restored.
      const run = await expectRoundTrip(recipe, ['-b', osCluster.build], { env: osCluster.env });
      const entries = run.events.filter((e) => e.type === 'entry').map((e) => String(e.path));
      expect(entries.some((e) => e.startsWith(`elasticsearch/localhost/files${os.pathRepo[0]}/nightly/snap-`))).toBe(true);
      expect((await os.request('GET', '/lsbackup-recipe-test/_doc/1')).body._source).toEqual({ marker: 'lsbackup-recipe-test' });
      expect((await os.request('GET', '/_snapshot/nightly')).body).toHaveProperty('nightly.settings.location', join(os.pathRepo[0]!, 'nightly'));
    } finally {
      await os.stop();
      await osCluster.cleanup();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('elasticsearch recipe, a restored configuration (STAND-IN restarted by its restart command)', () => {
  let es: ElasticsearchStandIn;
  let cluster: Cluster;
  /** elasticsearch_tmp_dir: where restore keeps the configuration it replaces. */
  let aside: string;
  let configFile: string;
  beforeAll(async () => {
    cluster = await createCluster({ local: ['logging'], env: NO_PASSWORD });
    aside = await mkdtemp(join(tmpdir(), 'lsb-es-aside-'));
  });
  beforeEach(async () => {
    es = await startElasticsearchStandIn();
    configFile = join(es.configDir, 'elasticsearch.yml');
    await load(es);
    await cluster.hostVars('localhost', {
      elasticsearch_url: es.url,
      elasticsearch_path_repo: es.pathRepo[0],
      elasticsearch_config_dir: es.configDir,
      elasticsearch_restart_command: es.restartCommand,
      elasticsearch_tmp_dir: aside,
      // A node refusing its configuration never answers: the restore waits this long.
      elasticsearch_ready_timeout: 10,
    });
  });
  afterEach(async () => {
    await es?.stop();
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await rm(aside, { recursive: true, force: true });
  });

  it('restarts the node when the restored configuration differs, waits until it answers, then restores the snapshot through it', async () => {
    const { archive } = await backupWithUnreadEdit(cluster, recipe, configFile, 'bootstrap.memory_lock: true\n');
    await destroy(es);
    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(es.restarts()).toBe(1);
    expect(stepEnd(r, 'restart Elasticsearch')).toEqual({
      status: 'success',
      stdout: `elasticsearch: restarted on the restored configuration; it answers at ${es.url}`,
      stderr: '',
    });
    expect(await readFile(configFile, 'utf8')).toContain('bootstrap.memory_lock: true');
    expect(await allDocs(es)).toEqual(docs);
    expect(await readdir(aside)).toEqual([]);
  });

  it('does not restart the node when the restored configuration is the one in place', async () => {
    const archive = await cluster.backup(recipe);
    await destroy(es);
    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(es.restarts()).toBe(0);
    expect(stepEnd(r, 'restart Elasticsearch').stdout).toBe(
      'elasticsearch: the restored configuration is the one that was in place: Elasticsearch not restarted',
    );
    expect(await allDocs(es)).toEqual(docs);
  });

  it('puts the previous configuration back when the node does not start with the restored one, restarts it on that, and fails before the snapshot restore', async () => {
    // The backup holds a setting Elasticsearch does not know, and a file the host no longer has.
    const extra = join(es.configDir, 'jvm.options');
    await writeFile(extra, '-Xms1g\n');
    const { archive, config } = await backupWithUnreadEdit(cluster, recipe, configFile, 'lsbackup.no_such_setting: 1\n');
    await rm(extra);
    await destroy(es);
    const destroyed = await allDocs(es);

    const r = await cluster.restore(archive, ['--json']);
    expect(r.exitCode, cliOutput(r)).toBe(1);
    const step = stepEnd(r, 'restart Elasticsearch');
    expect(step.status).toBe('failed');
    expect(step.stderr).toBe(
      `elasticsearch: Elasticsearch did not answer ${es.url}/_cluster/health within 10s of its restart (last: no answer): it did not start with the restored configuration` +
        ` (its log says why, e.g. journalctl -u elasticsearch). The configuration from before the restore is back in ${es.configDir},` +
        ` and Elasticsearch was restarted on it: it answers at ${es.url}`,
    );
    expect(await readFile(es.logFile, 'utf8')).toContain('unknown setting [lsbackup.no_such_setting]');
    expect(es.restarts()).toBe(2);
    expect(es.running()).toBe(true);
    expect(await readFile(configFile, 'utf8')).toBe(config);
    expect(await readdir(es.configDir)).toEqual(['elasticsearch.yml']);
    // The snapshot restore, after the configuration, did not run.
    expect(await allDocs(es)).toEqual(destroyed);
    expect(await readdir(aside)).toEqual([]);
  });

  it('with elasticsearch_restart_command empty, restores a changed configuration with a warning that it takes effect at the next start', async () => {
    const { archive } = await backupWithUnreadEdit(cluster, recipe, configFile, 'bootstrap.memory_lock: true\n');
    await cluster.hostVars('localhost', {
      elasticsearch_url: es.url,
      elasticsearch_path_repo: es.pathRepo[0],
      elasticsearch_config_dir: es.configDir,
      elasticsearch_restart_command: '',
      elasticsearch_tmp_dir: aside,
    });
    const r = succeeded(await cluster.restore(archive, ['--json']));
    expect(stepEnd(r, 'restart Elasticsearch').stderr).toBe(
      'elasticsearch: the restored configuration takes effect when Elasticsearch next starts (elasticsearch_restart_command is empty)',
    );
    expect(es.restarts()).toBe(0);
    expect(await readFile(configFile, 'utf8')).toContain('bootstrap.memory_lock: true');
  });
});
