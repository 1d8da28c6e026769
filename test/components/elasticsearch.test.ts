/**
 * recipes/elasticsearch.yaml round trip. Elasticsearch here is a STAND-IN
 * (test/infra/standins/elasticsearch.ts): nothing real can run on this machine. It speaks
 * the snapshot REST API and writes real repository files; the recipe, curl and the
 * tar of the repository directory are exactly what runs against the real thing.
 * Host: the local host (ansible_connection=local), as root through sudo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startElasticsearchStandIn, type ElasticsearchStandIn } from '../infra/index.js';
import { archiveEntries, archiveEntry, readMetadata } from '../helpers/archive.js';
import { succeeded } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';

const recipe = shippedRecipe('elasticsearch');
let es: ElasticsearchStandIn;
let cluster: Cluster;

beforeAll(async () => {
  es = await startElasticsearchStandIn();
  cluster = await createCluster({ local: ['logging'] });
});
afterAll(async () => {
  await es?.stop();
  await cluster?.cleanup();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${es.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

const docs = {
  'logs-2024.01': { a: { msg: 'first', level: 'info' }, b: { msg: 'second', level: 'warn' } },
  users: { u1: { name: 'ann' }, u2: { name: 'bob' } },
};

async function allDocs(): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [index, byId] of Object.entries(docs)) {
    out[index] = {};
    for (const id of Object.keys(byId)) {
      const r = await call('GET', `/${index}/_doc/${id}`);
      out[index]![id] = r.status === 200 ? r.body._source : `HTTP ${r.status}`;
    }
  }
  return out;
}

describe('elasticsearch recipe (Elasticsearch STAND-IN, local host)', () => {
  it('snapshots into the fs repository, collects it, and restores the documents after the index is gone', async () => {
    for (const [index, byId] of Object.entries(docs)) {
      for (const [id, doc] of Object.entries(byId)) expect((await call('PUT', `/${index}/_doc/${id}`, doc)).status).toBe(201);
    }
    const before = await allDocs();
    expect(before).toEqual(docs);

    await cluster.hostVars('localhost', {
      elasticsearch_url: es.url,
      elasticsearch_cert: '',
      elasticsearch_key: '',
      elasticsearch_cacert: '',
      elasticsearch_path_repo: es.pathRepo[0],
      elasticsearch_config_dir: es.configDir,
    });
    const archive = await cluster.backup(recipe);
    const meta = await readMetadata(archive);
    expect(meta.components[0]).toMatchObject({ name: 'elasticsearch', status: 'success', componentVersion: '7.10.2' });
    const snapshot = JSON.parse(await archiveEntry(archive, 'elasticsearch/localhost/snapshot.json'));
    expect(snapshot.snapshots[0].state).toBe('SUCCESS');
    expect(snapshot.snapshots[0].indices.sort()).toEqual(['logs-2024.01', 'users']);
    const repo = join(es.pathRepo[0]!, 'lsbackup');
    const entries = await archiveEntries(archive);
    expect(entries).toContain(`elasticsearch/localhost/files${repo}/snap-${snapshot.snapshots[0].uuid}.dat`);
    expect(entries).toContain(`elasticsearch/localhost/files${es.configDir}/elasticsearch.yml`);
    // The temporary snapshot is gone from the live repository (post-step).
    expect((await call('GET', `/_snapshot/lsbackup/${snapshot.snapshots[0].snapshot}`)).status).toBe(404);
    expect((await readdir(repo)).filter((f) => f.startsWith('snap-'))).toEqual([]);

    // Destroy: one index deleted, a document of the other changed, the config file removed.
    await call('DELETE', '/users');
    await call('PUT', '/logs-2024.01/_doc/a', { msg: 'overwritten' });
    const config = await readFile(join(es.configDir, 'elasticsearch.yml'), 'utf8');
    await rm(join(es.configDir, 'elasticsearch.yml'));
    expect(await allDocs()).not.toEqual(before);

    const r = succeeded(await cluster.restore(archive));
    expect(r.stdout + r.stderr).not.toMatch(/unexpected error/);
    expect(await allDocs()).toEqual(before);
    expect(await readFile(join(es.configDir, 'elasticsearch.yml'), 'utf8')).toBe(config);
    const indices = (await call('GET', '/_cat/indices?format=json')).body as Array<{ index: string; status: string }>;
    expect(indices.map((i) => [i.index, i.status]).sort()).toEqual([['logs-2024.01', 'open'], ['users', 'open']]);
  });

  it('works with OpenSearch paths and another repository name, used identically by backup and restore', async () => {
    // OpenSearch layout: path.repo /var/lib/opensearch-snapshots, config /usr/share/opensearch/config.
    const root = await mkdtemp(join(tmpdir(), 'lsb-opensearch-'));
    const os = await startElasticsearchStandIn({ baseDir: root, pathRepo: [join(root, 'var/lib/opensearch-snapshots')] });
    const osCluster = await createCluster({ local: ['logging'] });
    try {
      const configDir = join(root, 'usr/share/opensearch/config');
      await mkdir(configDir, { recursive: true });
      await writeFile(join(configDir, 'opensearch.yml'), `path.repo: ["${os.pathRepo[0]}"]\n`);
      await fetch(`${os.url}/audit/_doc/1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"who":"ann"}' });
      await osCluster.hostVars('localhost', {
        elasticsearch_url: os.url, elasticsearch_cert: '', elasticsearch_key: '', elasticsearch_cacert: '',
        elasticsearch_path_repo: os.pathRepo[0], elasticsearch_config_dir: configDir, elasticsearch_repository: 'nightly',
      });
      const archive = await osCluster.backup(recipe);
      expect((await archiveEntries(archive)).some((e) => e.startsWith(`elasticsearch/localhost/files${os.pathRepo[0]}/nightly/snap-`))).toBe(true);
      await fetch(`${os.url}/audit`, { method: 'DELETE' });
      succeeded(await osCluster.restore(archive));
      const doc = (await (await fetch(`${os.url}/audit/_doc/1`)).json()) as { _source: unknown };
      expect(doc._source).toEqual({ who: 'ann' });
      expect((await (await fetch(`${os.url}/_snapshot/nightly`)).json())).toHaveProperty('nightly.settings.location', join(os.pathRepo[0]!, 'nightly'));
    } finally {
      await os.stop();
      await osCluster.cleanup();
      await rm(root, { recursive: true, force: true });
    }
  });
});
