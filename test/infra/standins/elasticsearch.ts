/**
 * STAND-IN for Elasticsearch 7.10.2 with Open Distro 1.13 (what LambdaStack installs; OpenSearch
 * 1.x forked from the same code): neither is packaged anywhere reachable from this machine
 * (test/infra/README.md "Stand-ins"). A small HTTP server speaking the REST endpoints an Elasticsearch
 * recipe calls with curl, writing REAL files into the `fs` repository directory (`index-N`,
 * `index.latest`, `snap-<uuid>.dat`, `indices/<id>/…`), so a recipe that tars the repository and
 * restores it exercises what users run.
 *
 * Imitated as the product does it:
 * - A request line over 4 KB is refused (400, http.max_initial_line_length).
 * - The repository must lie inside `path.repo` (500 otherwise). The cluster keeps the
 *   repository's GENERATION (and, like ES's cache, its catalogue) in cluster state: a repository
 *   is read from disk only when registered anew (first use, after DELETE, or re-registered with
 *   different settings); re-registering with identical settings changes nothing. A write that
 *   finds its `index-<generation>` gone marks the repository CORRUPTED, and every later use fails
 *   with ES's message until it is deleted and registered again (BlobStoreRepository,
 *   RepositoriesService in ES 7.10). `POST /_snapshot/<repo>/_verify`.
 * - Snapshots are IN_PROGRESS before they end (`wait_for_completion=true` waits); they end
 *   SUCCESS, or PARTIAL / FAILED when the test asks (`setSnapshotOutcome`). A PARTIAL or FAILED
 *   snapshot stays in the repository; with wait_for_completion its HTTP status is 500, as
 *   SnapshotInfo.status() gives. Snapshot names must be lowercase. `*` includes hidden indices
 *   when snapshotting, not elsewhere; a restore of an index whose shard failed is refused.
 * - With `security`: HTTPS with LambdaStack's certificates (standins/lambdastack-certs.ts), the
 *   `.opendistro_security` index holding the users, basic auth (401 without), the admin client
 *   certificate as super admin; a certificate that does not verify (expired) ends the
 *   connection. As Open Distro's SnapshotRestoreEvaluator: without the admin certificate a
 *   restore with include_global_state, of `_all`/`*`, or touching `.opendistro_security` is 403,
 *   and so is any write to `.opendistro_security`.
 *
 * - A restart (`restartCommand`, what `systemctl restart elasticsearch` is to the recipe): like
 *   Elasticsearch it reads elasticsearch.yml only when it starts, and a setting it does not know
 *   is fatal ("unknown setting [...] please check that any required plugins are installed", in
 *   `logFile`): it stays down. Started, it listens where it did and answers the first two requests
 *   with 503 `master_not_discovered_exception`, as a node does until the cluster has a master.
 *   Indices, repositories and users survive a restart (they are on disk in Elasticsearch).
 *
 * Not imitated: shards, replicas, several nodes, mappings, searches, incremental snapshots (each
 * snapshot writes its documents whole), bcrypt (passwords are kept as given), roles other than
 * admin, tenants, data streams, progress by time (a snapshot answers IN_PROGRESS to
 * `inProgressReads` status reads, then finishes: deterministic for tests); the values of settings
 * read at a restart (only their names are checked; `path.repo` stays as the options gave it; any
 * `opendistro_security.*` name passes).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type BaseServerOptions, prepareBaseDir, makeDirs, pathExists, runChecked, LOOPBACK } from '../servers/common.js';
import { HttpError, ok, serveRoutes, type Reply, type Request, type Routes } from './http.js';
import { restartableServer, unknownSettings, type RestartableServer } from './restartable.js';
import { makeLambdaStackCerts, type LambdaStackCerts } from './lambdastack-certs.js';

export type SnapshotState = 'SUCCESS' | 'PARTIAL' | 'FAILED';

export interface ElasticsearchStandIn {
  port: number;
  url: string;
  baseDir: string;
  /** Allowed snapshot repository roots (elasticsearch.yml `path.repo`). */
  pathRepo: string[];
  /** Stands in for /etc/elasticsearch: elasticsearch.yml (and, with security, the certificates). */
  configDir: string;
  /** With security: LambdaStack's certificate set, in configDir. */
  certs?: LambdaStackCerts;
  /** How the snapshots started from now on end (default SUCCESS). */
  setSnapshotOutcome(state: SnapshotState): void;
  /** How many status reads answered IN_PROGRESS so far (the recipe's polling ran). */
  inProgressAnswers(): number;
  /**
   * A request through real curl, as a recipe makes it; returns the HTTP status and the parsed
   * answer. With security: basic auth as `admin` with `password` (default: the current admin
   * password), or `{ cert: true }` for the admin certificate.
   */
  request(method: string, path: string, body?: unknown, auth?: { password?: string; cert?: boolean }): Promise<{ status: number; body: any }>;
  /** The cluster state of a registered repository. */
  repository(name: string): { generation: number | 'unknown'; corrupted: boolean } | undefined;
  /** A shell command that restarts it, as `systemctl restart elasticsearch` does Elasticsearch. */
  restartCommand: string;
  /** Restarts so far. */
  restarts(): number;
  /** Whether it serves now (false after a restart on a configuration it refused). */
  running(): boolean;
  /** Its log: why a restart did not start it. */
  logFile: string;
  stop(): Promise<void>;
}

export interface ElasticsearchOptions extends BaseServerOptions {
  /** `path.repo` entries; default: `<baseDir>/snapshots`. */
  pathRepo?: string[];
  /**
   * The node as a host of its own sees it (test/helpers/lambdastack-hosts.ts): `root` is its
   * filesystem as reached from here (/proc/<pid>/root), under which path.repo and repository
   * locations (the node's paths) are read and written; it listens on `address`:`port`.
   */
  node?: { root: string; address: string; port: number };
  /** Open Distro security as LambdaStack configures it: HTTPS, basic auth, admin certificate. */
  security?: {
    /** The `admin` user's password (LambdaStack: configuration/logging admin_password). */
    adminPassword: string;
    /** The host name the node certificate is for (default localhost). */
    hostName?: string;
    /** The admin certificate expired (LambdaStack's defaults: 2022-12-31). */
    adminExpired?: boolean;
  };
  /** Status reads a snapshot answers IN_PROGRESS before it finishes; default 1. */
  inProgressReads?: number;
}

interface Index {
  uuid: string;
  closed: boolean;
  hidden: boolean;
  docs: Map<string, unknown>;
}

interface SnapshotEntry {
  name: string;
  uuid: string;
  state: SnapshotState;
  indices: string[];
  /** Indices whose shard failed (PARTIAL). */
  failed: string[];
  include_global_state: boolean;
  start_time_in_millis: number;
}

/** index-N: the repository's catalogue of snapshots. */
interface RepositoryData {
  snapshots: SnapshotEntry[];
  indices: Record<string, { id: string; snapshots: string[] }>;
}

/** A registered repository as the cluster state holds it. */
interface Repository {
  type: 'fs';
  settings: Record<string, string>;
  location: string;
  /** Known generation (undefined: not read since registration), and its catalogue. */
  generation?: number;
  data?: RepositoryData;
  corrupted: boolean;
}

interface Running {
  repo: string;
  entry: SnapshotEntry;
  /** Documents as they were when the snapshot started. */
  contents: Map<string, Record<string, unknown>>;
  readsLeft: number;
}

/**
 * Settings Elasticsearch 7.10 OSS knows (a subset: those LambdaStack's template and common
 * operations use), and the plugin namespace whose names pass unchecked here.
 */
const KNOWN_SETTINGS = new Set([
  'cluster.name',
  'cluster.initial_master_nodes',
  'node.name',
  'node.master',
  'node.data',
  'path.data',
  'path.logs',
  'path.repo',
  'network.host',
  'http.port',
  'transport.port',
  'discovery.seed_hosts',
  'discovery.type',
  'bootstrap.memory_lock',
  'action.auto_create_index',
]);
const PLUGIN_PREFIX = 'opendistro_security.';

const SECURITY_INDEX = '.opendistro_security';
const esError = (status: number, type: string, reason: string) => new HttpError(status, { error: { root_cause: [{ type, reason }], type, reason }, status });
const forbidden = (action: string) =>
  esError(403, 'security_exception', `no permissions for [${action}] and User [name=admin, backend_roles=[admin], requestedTenant=null]`);

export async function startElasticsearchStandIn(opts: ElasticsearchOptions = {}): Promise<ElasticsearchStandIn> {
  const { baseDir, ownedHere } = await prepareBaseDir('es', opts);
  const configDir = join(baseDir, 'etc', 'elasticsearch');
  const pathRepo = (opts.pathRepo ?? [join(baseDir, 'snapshots')]).map((p) => resolve(p));
  /** A path of the node, where this process reaches it. */
  const onDisk = (p: string) => (opts.node ? join(opts.node.root, p) : p);
  await makeDirs([configDir, ...pathRepo.map(onDisk)]);
  const security = opts.security;
  const hostName = security?.hostName ?? 'localhost';
  const certs = security
    ? await makeLambdaStackCerts(configDir, { host: hostName, names: [hostName], ip: LOOPBACK, adminExpired: security.adminExpired })
    : undefined;
  await writeFile(
    join(configDir, 'elasticsearch.yml'),
    [
      'cluster.name: lsbackup-test',
      `path.repo: ${JSON.stringify(pathRepo)}`,
      ...(certs
        ? [
            // node.name and network.host: the VM's name, as roles/opendistro_for_elasticsearch writes them.
            `node.name: ${hostName}`,
            `network.host: ${hostName}`,
            'opendistro_security.ssl.http.enabled: true',
            `opendistro_security.ssl.http.pemcert_filepath: ${certs.nodeCert}`,
            `opendistro_security.ssl.http.pemkey_filepath: ${certs.nodeKey}`,
            `opendistro_security.ssl.http.pemtrustedcas_filepath: ${certs.rootCa}`,
            `opendistro_security.authcz.admin_dn: ['${certs.adminDn}']`,
          ]
        : []),
      '',
    ].join('\n'),
  );

  const indices = new Map<string, Index>();
  const repos = new Map<string, Repository>();
  const running = new Map<string, Running>();
  let outcome: SnapshotState = 'SUCCESS';
  let inProgressAnswers = 0;
  if (security) {
    // Users live in the security index, so restoring it over the live one changes who may log in.
    indices.set(SECURITY_INDEX, {
      uuid: randomUUID(),
      closed: false,
      hidden: false,
      docs: new Map<string, unknown>([
        ['internalusers', { admin: { password: security.adminPassword, backend_roles: ['admin'], reserved: true } }],
        ['config', { dynamic: { authc: { basic_internal_auth_domain: { http_enabled: true } } } }],
      ]),
    });
  }

  const currentAdminPassword = () =>
    (indices.get(SECURITY_INDEX)?.docs.get('internalusers') as Record<string, { password: string }> | undefined)?.admin?.password ?? '';

  /** Who is asking: 'superadmin' (admin certificate), 'admin' (basic auth); 401 otherwise. */
  const caller = (req: Request): 'superadmin' | 'admin' | 'anonymous' => {
    if (!security) return 'anonymous';
    const s = req.clientCert?.subject;
    if (s && `CN=${s.CN},OU=${s.OU},O=${s.O}` === certs!.adminDn) return 'superadmin';
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) {
      const [user, ...rest] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      const users = indices.get(SECURITY_INDEX)?.docs.get('internalusers') as Record<string, { password: string }> | undefined;
      if (user && users?.[user] && users[user]!.password === rest.join(':')) return 'admin';
    }
    throw new HttpError(401, 'Unauthorized');
  };
  const guardSecurityIndex = (req: Request, names: string[], action: string) => {
    if (names.includes(SECURITY_INDEX) && caller(req) !== 'superadmin') throw forbidden(action);
  };

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
  const repository = (name: string): Repository => {
    const r = repos.get(name);
    if (!r) throw esError(404, 'repository_missing_exception', `[${name}] missing`);
    return r;
  };
  const corruptedError = (name: string) =>
    esError(
      500,
      'repository_exception',
      `[${name}] Could not read repository data because the contents of the repository do not match its expected state. ` +
        "This is likely the result of either concurrently modifying the contents of the repository by a process other than this cluster or an issue with the repository's underlying storage. " +
        'The repository has been disabled to prevent corrupting its contents. To re-enable it and continue using it please remove the repository from the cluster and add it again to make the cluster recover the known state of the repository from its physical contents.',
    );

  /** The catalogue: from cluster state when known, read from disk only after a fresh registration. */
  const repositoryData = async (name: string): Promise<RepositoryData> => {
    const r = repository(name);
    if (r.corrupted) throw corruptedError(name);
    if (r.generation === undefined || !r.data) {
      const gen = await latestGenerationOnDisk(r.location);
      r.data = gen < 0 ? { snapshots: [], indices: {} } : (JSON.parse(await readFile(join(r.location, `index-${gen}`), 'utf8')) as RepositoryData);
      r.generation = gen;
    }
    return r.data;
  };
  /** Writes generation N+1; the index-N it builds on must still be there (ensureSafeGenerationExists). */
  const writeRepositoryData = async (name: string, data: RepositoryData): Promise<void> => {
    const r = repository(name);
    const gen = r.generation ?? -1;
    if (gen >= 0 && !(await pathExists(join(r.location, `index-${gen}`)))) {
      r.corrupted = true;
      throw esError(
        500,
        'repository_exception',
        `[${name}] concurrent modification of the index-N file, expected current generation [${gen}] but it was not found in the repository`,
      );
    }
    if (await pathExists(join(r.location, `index-${gen + 1}`))) {
      r.corrupted = true;
      throw esError(500, 'repository_exception', `[${name}] The file [index-${gen + 1}] already exists`);
    }
    await writeFile(join(r.location, `index-${gen + 1}`), JSON.stringify(data));
    const latest = Buffer.alloc(8);
    latest.writeBigInt64BE(BigInt(gen + 1));
    await writeFile(join(r.location, 'index.latest'), latest);
    if (gen >= 0) await rm(join(r.location, `index-${gen}`), { force: true });
    r.generation = gen + 1;
    r.data = data;
  };

  /** Names matching an ES index expression: comma list, `*` wildcards (hidden ones only with `hidden`), `_all`. */
  const expand = (expr: string | string[] | undefined, universe: string[], hidden = false): string[] => {
    const parts = (Array.isArray(expr) ? expr : (expr ?? '_all').split(',')).map((s) => s.trim()).filter(Boolean);
    const visible = (n: string) => hidden || !indices.get(n)?.hidden;
    if (parts.includes('_all') || parts.length === 0) return universe.filter(visible);
    const matches = (p: string, n: string) =>
      p.includes('*') ? visible(n) && new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(n) : p === n;
    return universe.filter((n) => parts.some((p) => matches(p, n)));
  };

  const snapshotKey = (repo: string, snap: string) => `${repo}\u0000${snap}`;

  /** Writes a running snapshot's files and catalogue entry: it has ended. */
  const finish = async (run: Running): Promise<SnapshotEntry> => {
    running.delete(snapshotKey(run.repo, run.entry.name));
    const r = repository(run.repo);
    const data = structuredClone(await repositoryData(run.repo));
    const { entry } = run;
    if (entry.state !== 'FAILED') {
      for (const n of entry.indices.filter((i) => !entry.failed.includes(i))) {
        const slot = (data.indices[n] ??= { id: randomUUID().replaceAll('-', '').slice(0, 22), snapshots: [] });
        slot.snapshots.push(entry.uuid);
        const dir = join(r.location, 'indices', slot.id, entry.uuid);
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'docs.json'), JSON.stringify(run.contents.get(n)));
        await writeFile(join(r.location, 'indices', slot.id, `meta-${entry.uuid}.dat`), JSON.stringify({ index: n, hidden: indices.get(n)?.hidden ?? false }));
      }
    }
    data.snapshots.push(entry);
    await writeFile(join(r.location, `snap-${entry.uuid}.dat`), JSON.stringify(snapshotInfo(entry)));
    await writeFile(join(r.location, `meta-${entry.uuid}.dat`), JSON.stringify({ cluster_name: 'lsbackup-test' }));
    await writeRepositoryData(run.repo, data);
    return entry;
  };

  const routes: Routes = [
    [
      'GET',
      '/',
      () => ok({ name: 'standin', cluster_name: 'lsbackup-test', version: { number: '7.10.2', distribution: 'oss' }, tagline: 'You Know, for Search' }),
    ],
    [
      'GET',
      '/_cluster/health',
      () =>
        ok({
          cluster_name: 'lsbackup-test',
          status: 'green',
          number_of_nodes: 1,
          number_of_data_nodes: 1,
          active_primary_shards: indices.size,
          active_shards: indices.size,
          unassigned_shards: 0,
        }),
    ],
    [
      'GET',
      '/_cat/indices',
      () =>
        ok(
          [...indices].map(([name, i]) => ({
            health: 'green',
            status: i.closed ? 'close' : 'open',
            index: name,
            uuid: i.uuid,
            'docs.count': String(i.docs.size),
          })),
        ),
    ],
    [
      'PUT',
      '/_opendistro/_security/api/internalusers/:user',
      (req) => {
        if (!security) throw esError(404, 'not_found', 'security plugin not installed');
        const users = index(SECURITY_INDEX).docs.get('internalusers') as Record<string, unknown>;
        const created = !(req.params.user! in users);
        users[req.params.user!] = { password: req.json<{ password: string }>().password, backend_roles: [], reserved: false };
        return ok({ status: created ? 'CREATED' : 'OK', message: `'${req.params.user}' ${created ? 'created' : 'updated'}.` }, created ? 201 : 200);
      },
    ],

    // --- snapshot repositories ---
    [
      'POST',
      '/_snapshot/:repo/_verify',
      async (req) => {
        const r = repository(req.params.repo!);
        const probe = join(r.location, `tests-${randomUUID()}`);
        try {
          await mkdir(probe);
          await writeFile(join(probe, 'master.dat'), randomUUID());
        } catch (e) {
          throw esError(
            500,
            'repository_verification_exception',
            `[${req.params.repo}] path [${r.location}] is not accessible on master node: ${(e as Error).message}`,
          );
        } finally {
          await rm(probe, { recursive: true, force: true });
        }
        return ok({ nodes: { standin0: { name: 'standin' } } });
      },
    ],
    ['PUT', '/_snapshot/:repo', (req) => registerRepo(req)],
    ['POST', '/_snapshot/:repo', (req) => registerRepo(req)],
    [
      'GET',
      '/_snapshot/:repo',
      (req) => {
        const r = repository(req.params.repo!);
        return ok({ [req.params.repo!]: { type: r.type, settings: r.settings } });
      },
    ],
    [
      'DELETE',
      '/_snapshot/:repo',
      (req) => {
        repository(req.params.repo!);
        if ([...running.values()].some((run) => run.repo === req.params.repo)) {
          throw esError(400, 'repository_conflict_exception', `[${req.params.repo}] trying to modify or unregister repository that is currently used`);
        }
        repos.delete(req.params.repo!);
        return ok({ acknowledged: true });
      },
    ],
    ['PUT', '/_snapshot/:repo/:snap', (req) => createSnapshot(req)],
    ['POST', '/_snapshot/:repo/:snap', (req) => createSnapshot(req)],
    [
      'GET',
      '/_snapshot/:repo/:snap',
      async (req) => {
        const repo = req.params.repo!;
        const data = await repositoryData(repo);
        const names =
          req.params.snap === '_all'
            ? [...data.snapshots.map((s) => s.name), ...[...running.values()].filter((r) => r.repo === repo).map((r) => r.entry.name)]
            : req.params.snap!.split(',');
        const found: unknown[] = [];
        for (const n of names) {
          const run = running.get(snapshotKey(repo, n));
          if (run && run.readsLeft > 0) {
            run.readsLeft--;
            inProgressAnswers++;
            found.push({ ...snapshotInfo(run.entry), state: 'IN_PROGRESS', shards: { total: 0, failed: 0, successful: 0 } });
            continue;
          }
          const s = run ? await finish(run) : data.snapshots.find((x) => x.name === n);
          if (!s) throw esError(404, 'snapshot_missing_exception', `[${repo}:${n}] is missing`);
          found.push(snapshotInfo(s));
        }
        return ok({ snapshots: found });
      },
    ],
    [
      'DELETE',
      '/_snapshot/:repo/:snap',
      async (req) => {
        const repo = req.params.repo!;
        const data = structuredClone(await repositoryData(repo));
        // A running snapshot is aborted.
        if (running.delete(snapshotKey(repo, req.params.snap!))) return ok({ acknowledged: true });
        const s = data.snapshots.find((x) => x.name === req.params.snap);
        if (!s) throw esError(404, 'snapshot_missing_exception', `[${repo}:${req.params.snap}] is missing`);
        const dir = repository(repo).location;
        data.snapshots = data.snapshots.filter((x) => x.uuid !== s.uuid);
        for (const [name, entry] of Object.entries(data.indices)) {
          entry.snapshots = entry.snapshots.filter((u) => u !== s.uuid);
          await rm(join(dir, 'indices', entry.id, s.uuid), { recursive: true, force: true });
          await rm(join(dir, 'indices', entry.id, `meta-${s.uuid}.dat`), { force: true });
          if (entry.snapshots.length === 0) {
            delete data.indices[name];
            await rm(join(dir, 'indices', entry.id), { recursive: true, force: true });
          }
        }
        await writeRepositoryData(repo, data);
        await rm(join(dir, `snap-${s.uuid}.dat`), { force: true });
        await rm(join(dir, `meta-${s.uuid}.dat`), { force: true });
        return ok({ acknowledged: true });
      },
    ],
    ['POST', '/_snapshot/:repo/:snap/_restore', (req) => restoreSnapshot(req)],

    // --- indices and documents ---
    [
      'PUT',
      '/:index',
      (req) => {
        const name = req.params.index!;
        if (indices.has(name)) throw esError(400, 'resource_already_exists_exception', `index [${name}] already exists`);
        const settings = req.json<{ settings?: Record<string, unknown> }>().settings ?? {};
        const hidden = String(settings['index.hidden'] ?? (settings.index as Record<string, unknown> | undefined)?.hidden) === 'true';
        indices.set(name, { uuid: randomUUID(), closed: false, hidden, docs: new Map() });
        return ok({ acknowledged: true, shards_acknowledged: true, index: name });
      },
    ],
    [
      'DELETE',
      '/:index',
      (req) => {
        const names = req.params.index!.split(',');
        for (const name of names) index(name);
        guardSecurityIndex(req, names, 'indices:admin/delete');
        for (const name of names) indices.delete(name);
        return ok({ acknowledged: true });
      },
    ],
    [
      'POST',
      '/:index/_close',
      (req) => {
        const all = req.query.get('expand_wildcards') === 'all';
        const names = expand(req.params.index, [...indices.keys()], all);
        if (req.query.get('ignore_unavailable') !== 'true') for (const p of req.params.index!.split(',')) if (!p.includes('*') && p !== '_all') index(p);
        guardSecurityIndex(req, names, 'indices:admin/close');
        for (const name of names) index(name).closed = true;
        return ok({ acknowledged: true, shards_acknowledged: true });
      },
    ],
    [
      'POST',
      '/:index/_open',
      (req) => {
        for (const name of expand(req.params.index, [...indices.keys()], true)) index(name).closed = false;
        return ok({ acknowledged: true, shards_acknowledged: true });
      },
    ],
    ['PUT', '/:index/_doc/:id', (req) => putDoc(req)],
    ['POST', '/:index/_doc/:id', (req) => putDoc(req)],
    [
      'GET',
      '/:index/_doc/:id',
      (req) => {
        const doc = openIndex(req.params.index!).docs.get(req.params.id!);
        const base = { _index: req.params.index, _id: req.params.id };
        return doc === undefined ? { status: 404, body: { ...base, found: false } } : ok({ ...base, found: true, _source: doc });
      },
    ],
    ['GET', '/:index/_count', (req) => ok({ count: openIndex(req.params.index!).docs.size })],
  ];

  async function registerRepo(req: Request) {
    const name = req.params.repo!;
    const body = req.json<{ type?: string; settings?: Record<string, unknown> }>();
    if (body.type !== 'fs') throw esError(500, 'repository_exception', `[${name}] repository type [${body.type}] does not exist`);
    const raw = body.settings?.location;
    if (typeof raw !== 'string' || !raw) throw esError(500, 'repository_exception', `[${name}] missing location`);
    // Relative locations resolve against the first path.repo entry, as in ES.
    const location = isAbsolute(raw) ? resolve(raw) : resolve(pathRepo[0]!, raw);
    const inside = pathRepo.some((root) => !relative(root, location).startsWith('..'));
    if (!inside) {
      const why = pathRepo.length ? '' : ' because this setting is empty';
      throw esError(500, 'repository_exception', `[${name}] location [${raw}] doesn't match any of the locations specified by path.repo${why}`);
    }
    // Settings are strings in cluster state: "compress": true and "true" are the same setting.
    const settings = Object.fromEntries(Object.entries(body.settings!).map(([k, v]) => [k, String(v)]));
    const current = repos.get(name);
    // Identical settings: nothing changes, not even a corrupted flag or a stale generation.
    if (current && JSON.stringify(sorted(current.settings)) === JSON.stringify(sorted(settings))) return ok({ acknowledged: true });
    await mkdir(onDisk(location), { recursive: true });
    repos.set(name, { type: 'fs', settings, location: onDisk(location), corrupted: false });
    return ok({ acknowledged: true });
  }

  async function createSnapshot(req: Request) {
    const repo = req.params.repo!;
    const name = req.params.snap!;
    const data = await repositoryData(repo);
    if (name !== name.toLowerCase())
      throw esError(400, 'invalid_snapshot_name_exception', `[${repo}:${name}] Invalid snapshot name [${name}], must be lowercase`);
    if (data.snapshots.some((s) => s.name === name) || running.has(snapshotKey(repo, name))) {
      throw esError(400, 'invalid_snapshot_name_exception', `[${repo}:${name}] Invalid snapshot name [${name}], snapshot with the same name already exists`);
    }
    const body = req.json<{ indices?: string | string[]; include_global_state?: boolean }>();
    // Snapshots expand wildcards to hidden indices too (strictExpandHidden).
    const chosen = expand(body.indices, [...indices.keys()], true);
    const failed = outcome === 'PARTIAL' ? [...chosen].sort().slice(0, 1) : [];
    const entry: SnapshotEntry = {
      name,
      uuid: randomUUID().replaceAll('-', '').slice(0, 22),
      state: outcome,
      indices: chosen,
      failed,
      include_global_state: body.include_global_state !== false,
      start_time_in_millis: Date.now(),
    };
    const run: Running = {
      repo,
      entry,
      readsLeft: opts.inProgressReads ?? 1,
      contents: new Map(chosen.map((n) => [n, Object.fromEntries(index(n).docs)])),
    };
    running.set(snapshotKey(repo, name), run);
    if (req.query.get('wait_for_completion') !== 'true') return ok({ accepted: true });
    const done = await finish(run);
    return { status: done.state === 'SUCCESS' ? 200 : 500, body: { snapshot: snapshotInfo(done) } } satisfies Reply;
  }

  async function restoreSnapshot(req: Request) {
    const repo = req.params.repo!;
    const data = await repositoryData(repo);
    const s = data.snapshots.find((x) => x.name === req.params.snap);
    if (!s) throw esError(404, 'snapshot_missing_exception', `[${repo}:${req.params.snap}] is missing`);
    const body = req.json<{ indices?: string | string[]; include_global_state?: boolean; partial?: boolean }>();
    const chosen = expand(body.indices, s.indices);
    if (security && caller(req) !== 'superadmin') {
      const asked = Array.isArray(body.indices) ? body.indices : (body.indices ?? '').split(',').filter(Boolean);
      if (body.include_global_state || asked.length === 0 || asked.some((p) => p === '_all' || p === '*') || chosen.includes(SECURITY_INDEX)) {
        throw forbidden('cluster:admin/snapshot/restore');
      }
    }
    const where = `[${repo}:${s.name}/${s.uuid}]`;
    if (s.state === 'FAILED') throw esError(500, 'snapshot_restore_exception', `${where} unsupported snapshot state [FAILED]`);
    for (const name of chosen) {
      if (s.failed.includes(name) && !body.partial)
        throw esError(500, 'snapshot_restore_exception', `${where} index [${name}] wasn't fully snapshotted - cannot restore`);
      const existing = indices.get(name);
      // Like ES: an open index with the same name blocks the whole restore.
      if (existing && !existing.closed) {
        throw esError(
          500,
          'snapshot_restore_exception',
          `${where} cannot restore index [${name}] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name`,
        );
      }
    }
    const dir = repository(repo).location;
    for (const name of chosen.filter((n) => !s.failed.includes(n))) {
      const slot = join(dir, 'indices', data.indices[name]!.id);
      const docs = JSON.parse(await readFile(join(slot, s.uuid, 'docs.json'), 'utf8')) as Record<string, unknown>;
      const meta = JSON.parse(await readFile(join(slot, `meta-${s.uuid}.dat`), 'utf8')) as { hidden: boolean };
      indices.set(name, { uuid: indices.get(name)?.uuid ?? randomUUID(), closed: false, hidden: meta.hidden, docs: new Map(Object.entries(docs)) });
    }
    const info = { snapshot: s.name, indices: chosen, shards: { total: chosen.length, failed: 0, successful: chosen.length } };
    return ok(req.query.get('wait_for_completion') === 'true' ? { snapshot: info } : { accepted: true });
  }

  function putDoc(req: Request) {
    const name = req.params.index!;
    guardSecurityIndex(req, [name], 'indices:data/write/index');
    if (!indices.has(name)) indices.set(name, { uuid: randomUUID(), closed: false, hidden: false, docs: new Map() });
    const i = openIndex(name);
    const created = !i.docs.has(req.params.id!);
    i.docs.set(req.params.id!, req.json());
    return ok({ _index: name, _id: req.params.id, result: created ? 'created' : 'updated' }, created ? 201 : 200);
  }

  // Set once the first server runs (its guard asks it from the first request on, when it may not be yet).
  // eslint-disable-next-line prefer-const
  let server: RestartableServer | undefined;
  const tls = certs ? { cert: await readFile(certs.nodeCert), key: await readFile(certs.nodeKey), ca: await readFile(certs.rootCa) } : undefined;
  const listen = (port: number | undefined) =>
    serveRoutes(routes, {
      ...(opts.node ? { host: opts.node.address } : {}),
      port,
      guard: (req) => {
        if (server?.startingUp()) throw esError(503, 'master_not_discovered_exception', 'no master');
        // http.max_initial_line_length: ES refuses a request line over 4 KB before anything else.
        if (`${req.method} ${req.path}?${req.query.toString()} HTTP/1.1`.length > 4096)
          throw esError(400, 'too_long_frame_exception', 'An HTTP line is larger than 4096 bytes.');
        caller(req);
      },
      ...(tls ? { tls } : {}),
    });
  const first = await listen(opts.node?.port);
  const { port } = first;
  const plainUrl = first.url;
  const logFile = join(baseDir, 'elasticsearch.log');
  server = await restartableServer({
    first,
    settingsFile: join(configDir, 'elasticsearch.yml'),
    logFile,
    refusal: (settings) => {
      const unknown = unknownSettings(settings, KNOWN_SETTINGS, [PLUGIN_PREFIX]);
      return unknown.length
        ? `java.lang.IllegalArgumentException: unknown setting [${unknown[0]}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings`
        : undefined;
    },
    // The same address and port (the stand-in's path.repo stays as the options gave it).
    listen: () => listen(port),
  });
  const lifecycle = server;
  return {
    port,
    url: certs ? `https://${hostName}:${port}` : plainUrl,
    baseDir,
    pathRepo,
    configDir,
    ...(certs ? { certs } : {}),
    setSnapshotOutcome: (state) => void (outcome = state),
    request: async (method, path, body, auth = {}) => {
      const url = certs ? `https://${hostName}:${port}` : plainUrl;
      const args = ['-sS', '-w', '\n%{http_code}', '-X', method, '-H', 'Content-Type: application/json', `${url}${path}`];
      if (body !== undefined) args.push('--data-binary', JSON.stringify(body));
      // The node's name resolves on its hosts (their /etc/hosts), not necessarily here.
      if (opts.node) args.push('--resolve', `${hostName}:${port}:${opts.node.address}`);
      if (certs) {
        args.push('--cacert', certs.rootCa);
        if (auth.cert) args.push('--cert', certs.adminCert, '--key', certs.adminKey);
        else args.push('-u', `admin:${auth.password ?? currentAdminPassword()}`);
      }
      const out = (await runChecked('curl', args)).stdout;
      const cut = out.lastIndexOf('\n');
      const text = out.slice(0, cut);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text || '{}');
      } catch {
        /* plain-text answers, e.g. 401 Unauthorized */
      }
      return { status: Number(out.slice(cut + 1)), body: parsed };
    },
    inProgressAnswers: () => inProgressAnswers,
    repository: (name) => {
      const r = repos.get(name);
      return r && { generation: r.generation ?? 'unknown', corrupted: r.corrupted };
    },
    restartCommand: lifecycle.restartCommand,
    restarts: lifecycle.restarts,
    running: lifecycle.running,
    logFile,
    stop: async () => {
      await lifecycle.stop();
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    },
  };
}

function sorted(o: Record<string, string>): Array<[string, string]> {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}

function snapshotInfo(s: SnapshotEntry) {
  const failures = s.state === 'FAILED' ? s.indices : s.failed;
  return {
    snapshot: s.name,
    uuid: s.uuid,
    version: '7.10.2',
    state: s.state,
    indices: s.indices,
    include_global_state: s.include_global_state,
    start_time_in_millis: s.start_time_in_millis,
    ...(s.state === 'FAILED' ? { reason: 'stand-in: snapshot FAILED on request of the test' } : {}),
    failures: failures.map((index) => ({
      index,
      shard_id: 0,
      reason: 'IndexShardSnapshotFailedException[stand-in: shard failed on request of the test]',
      status: 'INTERNAL_SERVER_ERROR',
    })),
    shards: { total: s.indices.length, failed: failures.length, successful: s.indices.length - failures.length },
  };
}

/** The newest `index-N` on disk (N from index.latest, or the highest present); -1 if none. */
async function latestGenerationOnDisk(dir: string): Promise<number> {
  if (await pathExists(join(dir, 'index.latest'))) return Number((await readFile(join(dir, 'index.latest'))).readBigInt64BE());
  const gens = (await readdir(dir).catch(() => [] as string[]))
    .map((f) => /^index-(\d+)$/.exec(f)?.[1])
    .filter((g): g is string => !!g)
    .map(Number);
  return gens.length ? Math.max(...gens) : -1;
}
