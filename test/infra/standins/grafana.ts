/**
 * STAND-IN for Grafana: not packaged anywhere reachable from this machine (test/infra/README.md).
 * Imitates Grafana 7.3.5 as LambdaStack's roles/grafana installs it, in the HTTP API a Grafana
 * recipe calls with curl — `/api/search`, `/api/dashboards/uid/:uid`, `POST /api/dashboards/db`,
 * `/api/datasources` (list), `/api/datasources/:id|uid/:uid|name/:name` — behind basic auth (401
 * otherwise). Like Grafana:
 * - posting a dashboard whose `id` is unknown fails ("Dashboard not found"), so a restore must
 *   send `id: null`; saving sets `id` and bumps `version`, and keeps everything else as sent.
 * - dashboards provisioned from files (`<dataDir>/dashboards/*.json`, where LambdaStack puts
 *   them) are loaded on start, marked `meta.provisioned`, and cannot be saved or deleted
 *   through the API (400 "Cannot save provisioned dashboard").
 * - a datasource's `secureJsonData` (passwords, tokens, TLS keys) is stored but NEVER returned:
 *   the single datasource answer has `secureJsonFields: {<key>: true}` only, and the list has
 *   neither (nor `basicAuthUser`, `withCredentials`, `version`), as Grafana's DataSourceListItemDTO.
 * - `tls`: HTTPS with LambdaStack's self-signed certificate (`openssl req -x509 -subj
 *   …/CN=localhost`) at `<configDir>/ssl/grafana_cert.pem` and `grafana_key.key`, optionally
 *   already expired (LambdaStack never renews it), and grafana.ini's `[server] protocol = https`.
 * State is saved to `<dataDir>/grafana.json` (stands in for /var/lib/grafana/grafana.db, where
 * Grafana keeps secureJsonData encrypted with `[security] secret_key`) and loaded on start, so a
 * file-level backup of the data dir round-trips the credentials too.
 * Not imitated: folders, permissions, users/orgs/API keys, provisioning (files under
 * /etc/grafana/provisioning), the legacy plain `password`/`basicAuthPassword` datasource fields,
 * dashboard versions history, plugins, alert notification channels, SQLite itself.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BaseServerOptions, prepareBaseDir, makeDirs, pathExists } from '../servers/common.js';
import { HttpError, ok, serveRoutes, type Routes } from './http.js';
import { writeSelfSignedCert } from './self-signed.js';

type Json = Record<string, any>;

interface State {
  nextId: number;
  dashboards: Record<string, { dashboard: Json; folderId: number; created: string; updated: string }>;
  /** As stored: the API never shows `secureJsonData` (see datasourceDto). */
  datasources: Json[];
}

export interface GrafanaStandIn {
  port: number;
  url: string;
  /** http://user:password@127.0.0.1:port, ready for curl. */
  authUrl: string;
  user: string;
  password: string;
  baseDir: string;
  /** Stands in for /var/lib/grafana. */
  dataDir: string;
  /** Stands in for /etc/grafana (holds grafana.ini, and ssl/ with `tls`). */
  configDir: string;
  /** With `tls`: the certificate Grafana serves (`<configDir>/ssl/grafana_cert.pem`). */
  certFile?: string;
  stop(): Promise<void>;
}

export interface GrafanaOptions extends BaseServerOptions {
  user?: string;
  password?: string;
  /** HTTPS with a self-signed certificate for CN=localhost (LambdaStack's); `expired`: out of date. */
  tls?: { expired?: boolean }; /**
   * Dashboards written to `<dataDir>/dashboards/<uid>.json` before start, where LambdaStack's
   * roles/grafana provisions them from (provider `default`, no allowUiUpdates).
   */
  provisioned?: Json[];
  /** Port on 127.0.0.1 (LambdaStack's: 3000); default: a free one. */
  port?: number;
}

const gfError = (status: number, message: string, extra: Json = {}) => new HttpError(status, { message, ...extra });
const newUid = () => randomBytes(7).toString('base64url').slice(0, 9);
const slugify = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** GET /api/datasources/:id (Grafana's dtos.DataSource): secure values only as `secureJsonFields`. */
function datasourceDto(ds: Json): Json {
  const { secureJsonData, ...shown } = ds;
  return {
    typeLogoUrl: `public/app/plugins/datasource/${ds.type}/img/logo.svg`,
    basicAuthUser: '',
    withCredentials: false,
    ...shown,
    secureJsonFields: Object.fromEntries(Object.keys(secureJsonData ?? {}).map((k) => [k, true])),
  };
}

/** An item of GET /api/datasources (Grafana's DataSourceListItemDTO): fewer fields than a single one. */
function datasourceListItem(ds: Json): Json {
  const { id, uid, orgId, name, type, access, url, user, database, basicAuth, isDefault, jsonData, readOnly } = datasourceDto(ds);
  return {
    id,
    uid,
    orgId,
    name,
    type,
    typeLogoUrl: `public/app/plugins/datasource/${type}/img/logo.svg`,
    access,
    url,
    user,
    database,
    basicAuth,
    isDefault,
    jsonData,
    readOnly,
  };
}

export async function startGrafanaStandIn(opts: GrafanaOptions = {}): Promise<GrafanaStandIn> {
  const { baseDir, ownedHere } = await prepareBaseDir('grafana', opts);
  const dataDir = join(baseDir, 'var', 'lib', 'grafana');
  const configDir = join(baseDir, 'etc', 'grafana');
  await makeDirs([dataDir, configDir]);
  const user = opts.user ?? 'admin';
  const password = opts.password ?? 'admin';
  const sslDir = join(configDir, 'ssl');
  const certFile = opts.tls ? join(sslDir, 'grafana_cert.pem') : undefined;
  const keyFile = join(sslDir, 'grafana_key.key');
  if (certFile && !(await pathExists(certFile))) {
    await makeDirs([sslDir]);
    await writeSelfSignedCert(certFile, keyFile, { expired: opts.tls!.expired });
  }
  const server = certFile ? `[server]\nprotocol = https\ncert_file = ${certFile}\ncert_key = ${keyFile}\n` : '';
  await writeFile(join(configDir, 'grafana.ini'), `[paths]\ndata = ${dataDir}\n${server}[security]\nadmin_user = ${user}\n`);
  const stateFile = join(dataDir, 'grafana.json');
  const state: State = (await pathExists(stateFile))
    ? (JSON.parse(await readFile(stateFile, 'utf8')) as State)
    : { nextId: 1, dashboards: {}, datasources: [] };
  const persist = () => writeFile(stateFile, JSON.stringify(state, null, 2));
  // Provisioned dashboards: every <dataDir>/dashboards/*.json, (re)loaded on start as Grafana
  // does; the API refuses to save or delete them.
  const provisionedDir = join(dataDir, 'dashboards');
  await makeDirs([provisionedDir]);
  for (const d of opts.provisioned ?? []) await writeFile(join(provisionedDir, `${d.uid}.json`), JSON.stringify(d));
  const provisioned = new Map<string, string>();
  for (const file of (await readdir(provisionedDir)).filter((f) => f.endsWith('.json')).sort()) {
    const dash = JSON.parse(await readFile(join(provisionedDir, file), 'utf8')) as Json;
    const existing = state.dashboards[dash.uid];
    const now = new Date().toISOString();
    state.dashboards[dash.uid] = {
      dashboard: { ...dash, id: existing?.dashboard.id ?? state.nextId++, version: existing?.dashboard.version ?? 1 },
      folderId: 0,
      created: existing?.created ?? now,
      updated: now,
    };
    provisioned.set(dash.uid, file);
  }
  const refuseProvisioned = (uid: string, what: string) => {
    if (provisioned.has(uid)) throw gfError(400, `Cannot ${what} provisioned dashboard`);
  };

  const routes: Routes = [
    ['GET', '/api/health', () => ok({ commit: 'standin', database: 'ok', version: '7.3.5' })],
    [
      'GET',
      '/api/search',
      (req) => {
        const q = (req.query.get('query') ?? '').toLowerCase();
        const type = req.query.get('type');
        if (type && type !== 'dash-db') return ok([]);
        return ok(
          Object.values(state.dashboards)
            .filter(({ dashboard }) => String(dashboard.title).toLowerCase().includes(q))
            .map(({ dashboard, folderId }) => ({
              id: dashboard.id,
              uid: dashboard.uid,
              title: dashboard.title,
              uri: `db/${slugify(dashboard.title)}`,
              url: `/d/${dashboard.uid}/${slugify(dashboard.title)}`,
              type: 'dash-db',
              tags: dashboard.tags ?? [],
              isStarred: false,
              folderId,
            })),
        );
      },
    ],
    [
      'GET',
      '/api/dashboards/uid/:uid',
      (req) => {
        const d = state.dashboards[req.params.uid!];
        if (!d) throw gfError(404, 'Dashboard not found');
        return ok({
          dashboard: d.dashboard,
          meta: {
            type: 'db',
            slug: slugify(d.dashboard.title),
            url: `/d/${d.dashboard.uid}/${slugify(d.dashboard.title)}`,
            folderId: d.folderId,
            created: d.created,
            updated: d.updated,
            version: d.dashboard.version,
            provisioned: provisioned.has(d.dashboard.uid),
            provisionedExternalId: provisioned.get(d.dashboard.uid) ?? '',
          },
        });
      },
    ],
    [
      'POST',
      '/api/dashboards/db',
      async (req) => {
        const body = req.json<{ dashboard?: Json; overwrite?: boolean; folderId?: number }>();
        const dash = body.dashboard;
        if (!dash || typeof dash.title !== 'string' || !dash.title) throw gfError(400, 'Dashboard title cannot be empty');
        const byId = dash.id != null ? Object.values(state.dashboards).find((d) => d.dashboard.id === dash.id) : undefined;
        if (dash.id != null && !byId) throw gfError(404, 'Dashboard not found', { status: 'not-found' });
        const uid: string = dash.uid || byId?.dashboard.uid || newUid();
        const existing = state.dashboards[uid];
        refuseProvisioned(uid, 'save');
        if (existing && !body.overwrite && existing.dashboard.version !== dash.version) {
          throw gfError(412, 'A dashboard with the same uid already exists', { status: 'name-exists' });
        }
        const now = new Date().toISOString();
        const saved: Json = { ...dash, uid, id: existing?.dashboard.id ?? state.nextId++, version: (existing?.dashboard.version ?? 0) + 1 };
        state.dashboards[uid] = { dashboard: saved, folderId: body.folderId ?? 0, created: existing?.created ?? now, updated: now };
        await persist();
        return ok({ id: saved.id, uid, url: `/d/${uid}/${slugify(saved.title)}`, status: 'success', version: saved.version, slug: slugify(saved.title) });
      },
    ],
    [
      'DELETE',
      '/api/dashboards/uid/:uid',
      async (req) => {
        const d = state.dashboards[req.params.uid!];
        if (!d) throw gfError(404, 'Dashboard not found');
        refuseProvisioned(req.params.uid!, 'delete');
        delete state.dashboards[req.params.uid!];
        await persist();
        return ok({ title: d.dashboard.title, message: `Dashboard ${d.dashboard.title} deleted`, id: d.dashboard.id });
      },
    ],
    ['GET', '/api/datasources', () => ok(state.datasources.map(datasourceListItem))],
    [
      'POST',
      '/api/datasources',
      async (req) => {
        const ds = req.json<Json>();
        if (!ds.name || !ds.type) throw gfError(400, 'Validation error: name and type are required');
        if (state.datasources.some((d) => d.name === ds.name)) throw gfError(409, 'Data source with same name already exists');
        const fields = [
          'name',
          'type',
          'access',
          'url',
          'user',
          'database',
          'basicAuth',
          'basicAuthUser',
          'withCredentials',
          'isDefault',
          'jsonData',
          'secureJsonData',
          'uid',
        ];
        const sent = Object.fromEntries(Object.entries(ds).filter(([k]) => fields.includes(k)));
        const saved: Json = {
          access: 'proxy',
          url: '',
          user: '',
          database: '',
          basicAuth: false,
          isDefault: false,
          jsonData: {},
          ...sent,
          id: state.nextId++,
          uid: ds.uid || newUid(),
          orgId: 1,
          version: 1,
          readOnly: false,
        };
        state.datasources.push(saved);
        await persist();
        return ok({ datasource: datasourceDto(saved), id: saved.id, message: 'Datasource added', name: saved.name });
      },
    ],
    [
      'GET',
      '/api/datasources/:id',
      (req) => {
        const ds = state.datasources.find((d) => String(d.id) === req.params.id);
        if (!ds) throw gfError(404, 'Data source not found');
        return ok(datasourceDto(ds));
      },
    ],
    [
      'GET',
      '/api/datasources/uid/:uid',
      (req) => {
        const ds = state.datasources.find((d) => d.uid === req.params.uid);
        if (!ds) throw gfError(404, 'Data source not found');
        return ok(datasourceDto(ds));
      },
    ],
    [
      'GET',
      '/api/datasources/name/:name',
      (req) => {
        const ds = state.datasources.find((d) => d.name === req.params.name);
        if (!ds) throw gfError(404, 'Data source not found');
        return ok(datasourceDto(ds));
      },
    ],
    [
      'DELETE',
      '/api/datasources/uid/:uid',
      async (req) => {
        const before = state.datasources.length;
        state.datasources = state.datasources.filter((d) => d.uid !== req.params.uid);
        if (state.datasources.length === before) throw gfError(404, 'Data source not found');
        await persist();
        return ok({ message: 'Data source deleted' });
      },
    ],
  ];

  const expected = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  const http = await serveRoutes(routes, {
    port: opts.port,
    ...(certFile ? { tls: { cert: await readFile(certFile), key: await readFile(keyFile) } } : {}),
    guard: (req) => {
      if (req.path !== '/api/health' && req.headers.authorization !== expected) throw gfError(401, 'Invalid username or password');
    },
  });
  const authUrl = http.url.replace('://', `://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`);
  return {
    port: http.port,
    url: http.url,
    authUrl,
    user,
    password,
    baseDir,
    dataDir,
    configDir,
    ...(certFile ? { certFile } : {}),
    stop: async () => {
      await http.stop();
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    },
  };
}
