/**
 * STAND-IN for Elasticsearch / Open Distro / OpenSearch: neither is packaged anywhere
 * reachable from this machine (TEST-INFRA.md "Stand-ins"). A small HTTP server speaking
 * the REST endpoints an Elasticsearch recipe calls with curl — the snapshot API with an
 * `fs` repository that must lie inside `path.repo` (500 otherwise, as ES answers), index
 * close/delete, documents, cluster health — and writing REAL files into the repository
 * directory (`index-N`, `index.latest`, `snap-<uuid>.dat`, `indices/<uuid>/…`), so a
 * recipe that tars the repository and restores it exercises what users run.
 * Documents live in memory; snapshots live only on disk (restore reads them back).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type BaseServerOptions, prepareBaseDir, makeDirs, pathExists } from '../servers/common.js';
import { HttpError, ok, serveRoutes, type Request, type Routes } from './http.js';

export interface ElasticsearchStandIn {
  port: number;
  url: string;
  baseDir: string;
  /** Allowed snapshot repository roots (elasticsearch.yml `path.repo`). */
  pathRepo: string[];
  /** Stands in for /etc/elasticsearch: holds elasticsearch.yml with path.repo. */
  configDir: string;
  stop(): Promise<void>;
}

export interface ElasticsearchOptions extends BaseServerOptions {
  /** `path.repo` entries; default: `<baseDir>/snapshots`. */
  pathRepo?: string[];
}

interface Index {
  uuid: string;
  closed: boolean;
  docs: Map<string, unknown>;
}

/** index-N: the repository's catalogue of snapshots (ES keeps a generation number too). */
interface RepositoryData {
  snapshots: Array<{ name: string; uuid: string; state: 'SUCCESS'; indices: string[]; start_time_in_millis: number }>;
  indices: Record<string, { id: string; snapshots: string[] }>;
}

const esError = (status: number, type: string, reason: string) =>
  new HttpError(status, { error: { root_cause: [{ type, reason }], type, reason }, status });

export async function startElasticsearchStandIn(opts: ElasticsearchOptions = {}): Promise<ElasticsearchStandIn> {
  const { baseDir, ownedHere } = await prepareBaseDir('es', opts);
  const configDir = join(baseDir, 'etc', 'elasticsearch');
  const pathRepo = (opts.pathRepo ?? [join(baseDir, 'snapshots')]).map((p) => resolve(p));
  await makeDirs([configDir, ...pathRepo]);
  await writeFile(join(configDir, 'elasticsearch.yml'), `cluster.name: lsbackup-test\npath.repo: ${JSON.stringify(pathRepo)}\n`);

  const indices = new Map<string, Index>();
  const repos = new Map<string, { type: string; settings: { location: string } }>();

  const index = (name: string): Index => {
    const i = indices.get(name);
    if (!i) throw esError(404, 'index_not_found_exception', `no such index [${name}]`);
    return i;
  };
  const openIndex = (name: string): Index => {
    const i = index(name);
    if (i.closed) throw esError(400, 'index_closed_exception', `closed [${name}]`);
    return i;
  };
  const repoDir = (name: string): string => {
    const r = repos.get(name);
    if (!r) throw esError(404, 'repository_missing_exception', `[${name}] missing`);
    return r.settings.location;
  };
  const findSnapshot = async (req: Request) => {
    const dir = repoDir(req.params.repo!);
    const data = await readRepositoryData(dir);
    const s = data.snapshots.find((x) => x.name === req.params.snap);
    if (!s) throw esError(404, 'snapshot_missing_exception', `[${req.params.repo}:${req.params.snap}] is missing`);
    return { dir, data, s };
  };
  /** Names matching an ES index expression: comma list, `*` wildcards, `_all`. */
  const expand = (expr: string | string[] | undefined, universe: string[]): string[] => {
    const parts = (Array.isArray(expr) ? expr : (expr ?? '_all').split(',')).map((s) => s.trim()).filter(Boolean);
    if (parts.includes('_all') || parts.length === 0) return universe;
    return universe.filter((n) => parts.some((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(n)));
  };

  const routes: Routes = [
    ['GET', '/', () => ok({ name: 'standin', cluster_name: 'lsbackup-test', version: { number: '7.10.2', distribution: 'standin' }, tagline: 'You Know, for Search' })],
    ['GET', '/_cluster/health', () => ok({
      cluster_name: 'lsbackup-test', status: 'green', number_of_nodes: 1, number_of_data_nodes: 1,
      active_primary_shards: indices.size, active_shards: indices.size, unassigned_shards: 0,
    })],
    ['GET', '/_cat/indices', () => ok([...indices].map(([name, i]) => ({
      health: 'green', status: i.closed ? 'close' : 'open', index: name, uuid: i.uuid, 'docs.count': String(i.docs.size),
    })))],

    // --- snapshot repositories ---
    ['PUT', '/_snapshot/:repo', (req) => registerRepo(req)],
    ['POST', '/_snapshot/:repo', (req) => registerRepo(req)],
    ['GET', '/_snapshot/:repo', (req) => {
      const r = repos.get(req.params.repo!);
      if (!r) throw esError(404, 'repository_missing_exception', `[${req.params.repo}] missing`);
      return ok({ [req.params.repo!]: r });
    }],
    ['PUT', '/_snapshot/:repo/:snap', (req) => createSnapshot(req)],
    ['POST', '/_snapshot/:repo/:snap', (req) => createSnapshot(req)],
    ['GET', '/_snapshot/:repo/:snap', async (req) => {
      const data = await readRepositoryData(repoDir(req.params.repo!));
      const names = req.params.snap === '_all' ? data.snapshots.map((s) => s.name) : req.params.snap!.split(',');
      const found = names.map((n) => {
        const s = data.snapshots.find((x) => x.name === n);
        if (!s) throw esError(404, 'snapshot_missing_exception', `[${req.params.repo}:${n}] is missing`);
        return snapshotInfo(s);
      });
      return ok({ snapshots: found });
    }],
    ['DELETE', '/_snapshot/:repo/:snap', async (req) => {
      const { dir, data, s } = await findSnapshot(req);
      data.snapshots = data.snapshots.filter((x) => x !== s);
      for (const [name, entry] of Object.entries(data.indices)) {
        entry.snapshots = entry.snapshots.filter((u) => u !== s.uuid);
        await rm(join(dir, 'indices', entry.id, s.uuid), { recursive: true, force: true });
        if (entry.snapshots.length === 0) {
          delete data.indices[name];
          await rm(join(dir, 'indices', entry.id), { recursive: true, force: true });
        }
      }
      await rm(join(dir, `snap-${s.uuid}.dat`), { force: true });
      await rm(join(dir, `meta-${s.uuid}.dat`), { force: true });
      await writeRepositoryData(dir, data);
      return ok({ acknowledged: true });
    }],
    ['POST', '/_snapshot/:repo/:snap/_restore', async (req) => {
      const { dir, data, s } = await findSnapshot(req);
      const body = req.json<{ indices?: string | string[] }>();
      const chosen = expand(body.indices, s.indices);
      // Like ES: an open index with the same name blocks the whole restore.
      for (const name of chosen) {
        const existing = indices.get(name);
        if (existing && !existing.closed) {
          throw esError(500, 'snapshot_restore_exception',
            `[${req.params.repo}:${req.params.snap}/${s.uuid}] cannot restore index [${name}] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name`);
        }
      }
      for (const name of chosen) {
        const docs = JSON.parse(await readFile(join(dir, 'indices', data.indices[name]!.id, s.uuid, 'docs.json'), 'utf8')) as Record<string, unknown>;
        indices.set(name, { uuid: indices.get(name)?.uuid ?? randomUUID(), closed: false, docs: new Map(Object.entries(docs)) });
      }
      const info = { snapshot: s.name, indices: chosen, shards: { total: chosen.length, failed: 0, successful: chosen.length } };
      return ok(req.query.get('wait_for_completion') === 'true' ? { snapshot: info } : { accepted: true });
    }],

    // --- indices and documents ---
    ['PUT', '/:index', (req) => {
      if (indices.has(req.params.index!)) throw esError(400, 'resource_already_exists_exception', `index [${req.params.index}] already exists`);
      indices.set(req.params.index!, { uuid: randomUUID(), closed: false, docs: new Map() });
      return ok({ acknowledged: true, shards_acknowledged: true, index: req.params.index });
    }],
    ['DELETE', '/:index', (req) => {
      for (const name of req.params.index!.split(',')) index(name);
      for (const name of req.params.index!.split(',')) indices.delete(name);
      return ok({ acknowledged: true });
    }],
    ['POST', '/:index/_close', (req) => {
      for (const name of expand(req.params.index, [...indices.keys()])) index(name).closed = true;
      return ok({ acknowledged: true, shards_acknowledged: true });
    }],
    ['POST', '/:index/_open', (req) => {
      for (const name of expand(req.params.index, [...indices.keys()])) index(name).closed = false;
      return ok({ acknowledged: true, shards_acknowledged: true });
    }],
    ['PUT', '/:index/_doc/:id', (req) => putDoc(req)],
    ['POST', '/:index/_doc/:id', (req) => putDoc(req)],
    ['GET', '/:index/_doc/:id', (req) => {
      const doc = openIndex(req.params.index!).docs.get(req.params.id!);
      const base = { _index: req.params.index, _id: req.params.id };
      return doc === undefined ? { status: 404, body: { ...base, found: false } } : ok({ ...base, found: true, _source: doc });
    }],
    ['GET', '/:index/_count', (req) => ok({ count: openIndex(req.params.index!).docs.size })],
  ];

  function registerRepo(req: Request) {
    const body = req.json<{ type?: string; settings?: { location?: string } }>();
    if (body.type !== 'fs') throw esError(500, 'repository_exception', `[${req.params.repo}] repository type [${body.type}] does not exist`);
    const raw = body.settings?.location;
    if (!raw) throw esError(500, 'repository_exception', `[${req.params.repo}] missing location`);
    // Relative locations resolve against the first path.repo entry, as in ES.
    const location = isAbsolute(raw) ? resolve(raw) : resolve(pathRepo[0]!, raw);
    const inside = pathRepo.some((root) => !relative(root, location).startsWith('..'));
    if (!inside) {
      const why = pathRepo.length ? '' : ' because this setting is empty';
      throw esError(500, 'repository_exception',
        `[${req.params.repo}] location [${raw}] doesn't match any of the locations specified by path.repo${why}`);
    }
    repos.set(req.params.repo!, { type: 'fs', settings: { ...body.settings, location } });
    return mkdir(location, { recursive: true }).then(() => ok({ acknowledged: true }));
  }

  async function createSnapshot(req: Request) {
    const dir = repoDir(req.params.repo!);
    const data = await readRepositoryData(dir);
    const name = req.params.snap!;
    if (data.snapshots.some((s) => s.name === name)) {
      throw esError(400, 'invalid_snapshot_name_exception', `[${req.params.repo}:${name}] Invalid snapshot name [${name}], snapshot with the same name already exists`);
    }
    const body = req.json<{ indices?: string | string[] }>();
    const chosen = expand(body.indices, [...indices.keys()]);
    const uuid = randomUUID().replaceAll('-', '').slice(0, 22);
    for (const n of chosen) {
      const entry = (data.indices[n] ??= { id: randomUUID().replaceAll('-', '').slice(0, 22), snapshots: [] });
      entry.snapshots.push(uuid);
      const idir = join(dir, 'indices', entry.id, uuid);
      await mkdir(idir, { recursive: true });
      await writeFile(join(idir, 'docs.json'), JSON.stringify(Object.fromEntries(index(n).docs)));
      await writeFile(join(dir, 'indices', entry.id, `meta-${uuid}.dat`), JSON.stringify({ index: n, uuid: index(n).uuid }));
    }
    const snap = { name, uuid, state: 'SUCCESS' as const, indices: chosen, start_time_in_millis: Date.now() };
    data.snapshots.push(snap);
    await writeFile(join(dir, `snap-${uuid}.dat`), JSON.stringify(snapshotInfo(snap)));
    await writeFile(join(dir, `meta-${uuid}.dat`), JSON.stringify({ cluster_name: 'lsbackup-test' }));
    await writeRepositoryData(dir, data);
    return ok(req.query.get('wait_for_completion') === 'true' ? { snapshot: snapshotInfo(snap) } : { accepted: true });
  }

  function putDoc(req: Request) {
    const name = req.params.index!;
    if (!indices.has(name)) indices.set(name, { uuid: randomUUID(), closed: false, docs: new Map() });
    const i = openIndex(name);
    const created = !i.docs.has(req.params.id!);
    i.docs.set(req.params.id!, req.json());
    return ok({ _index: name, _id: req.params.id, result: created ? 'created' : 'updated' }, created ? 201 : 200);
  }

  const http = await serveRoutes(routes);
  return {
    port: http.port, url: http.url, baseDir, pathRepo, configDir,
    stop: async () => {
      await http.stop();
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    },
  };
}

function snapshotInfo(s: RepositoryData['snapshots'][number]) {
  return {
    snapshot: s.name, uuid: s.uuid, state: s.state, indices: s.indices, start_time_in_millis: s.start_time_in_millis,
    shards: { total: s.indices.length, failed: 0, successful: s.indices.length },
  };
}

/** Reads the newest `index-N` (N from index.latest, or the highest present); empty if none. */
async function readRepositoryData(dir: string): Promise<RepositoryData> {
  const gen = await latestGeneration(dir);
  if (gen < 0) return { snapshots: [], indices: {} };
  return JSON.parse(await readFile(join(dir, `index-${gen}`), 'utf8')) as RepositoryData;
}

/** Writes the next generation `index-N+1`, points index.latest at it, drops the old one (as ES does). */
async function writeRepositoryData(dir: string, data: RepositoryData): Promise<void> {
  const gen = await latestGeneration(dir);
  await writeFile(join(dir, `index-${gen + 1}`), JSON.stringify(data));
  const latest = Buffer.alloc(8);
  latest.writeBigInt64BE(BigInt(gen + 1));
  await writeFile(join(dir, 'index.latest'), latest);
  if (gen >= 0) await rm(join(dir, `index-${gen}`), { force: true });
}

async function latestGeneration(dir: string): Promise<number> {
  if (await pathExists(join(dir, 'index.latest'))) return Number((await readFile(join(dir, 'index.latest'))).readBigInt64BE());
  const gens = (await readdir(dir).catch(() => [] as string[]))
    .map((f) => /^index-(\d+)$/.exec(f)?.[1]).filter((g): g is string => !!g).map(Number);
  return gens.length ? Math.max(...gens) : -1;
}
