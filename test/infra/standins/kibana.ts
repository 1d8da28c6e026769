/**
 * STAND-IN for Kibana: not packaged anywhere reachable from this machine (test/infra/README.md).
 * Imitates Kibana OSS 7.10.2 as Open Distro for Elasticsearch 1.13 ships it (LambdaStack's
 * roles/kibana) in the saved-objects API a Kibana recipe calls with curl:
 * - `_export` by `type` or `objects` (ndjson, the export summary as the last line); a type Kibana
 *   cannot export is refused with 400 "Trying to export non-exportable type(s): …", as 7.10 does.
 * - `_import` (multipart `file` field, `overwrite`): like 7.10's validate_references, an object
 *   whose `index-pattern` or `search` reference is neither in the file nor in Kibana is NOT
 *   imported and the answer is HTTP 200 with `success: false` and a `missing_references` error;
 *   an object of a type Kibana does not know is an `unsupported_type` error; without overwrite an
 *   existing object is a `conflict`.
 * - every write needs a `kbn-xsrf` header.
 * - `security` (Open Distro security plugin): basic auth for every call (401 otherwise) and
 *   multitenancy as LambdaStack configures it (`tenants.preferred: ["Private", "Global"]`): the
 *   `securitytenant` header chooses the tenant (`global`/`__global__` or `private`/`__user__`);
 *   without it a call works in the user's PRIVATE tenant, as a browser session would.
 * - `host`: listens there (LambdaStack: the host's IPv4, `server.host: ansible_default_ipv4`);
 *   kibana.yml names it as LambdaStack's template does, plus `server.port` (a free port, not 5601).
 * - a restart (`restartCommand`, what `systemctl restart kibana` is to the recipe): like Kibana it
 *   reads kibana.yml only when it starts. Nested keys count as dotted ones; a key Kibana 7.10 OSS
 *   with the Open Distro plugins does not know, or a `server.port` that is not a number, is fatal
 *   (Kibana logs "FATAL Error: Unknown configuration key(s): …" and exits): it stays down, and the
 *   reason is in `logFile`. Started, it listens where `server.host`/`server.port` say and answers
 *   the first two requests with 503 "Kibana server is not ready yet", as Kibana does while its
 *   plugins start. The command returns before that, as `systemctl restart` of a Type=simple unit
 *   does. Saved objects survive a restart (Kibana keeps them in Elasticsearch).
 * Not imitated: Elasticsearch behind it (objects live in memory), HTTPS (LambdaStack serves Kibana
 * over plain HTTP), `_find`, `_resolve`, `createNewCopies`, retries (`_resolve_import_errors`),
 * spaces, the size limit (`savedObjects.maxImportExportSize`), migrations of older objects, other
 * users and roles (one admin user, all tenants writable), the values of settings other than
 * `server.host`/`server.port` (only their names are checked; any `opendistro_security.*` name
 * passes), and systemd restarting a Kibana that exited.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BaseServerOptions, prepareBaseDir, makeDirs } from '../servers/common.js';
import { HttpError, ok, serveRoutes, type Request, type Routes } from './http.js';
import { restartableServer, unknownSettings, type RestartableServer } from './restartable.js';

export interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: Array<{ type: string; id: string; name: string }>;
  updated_at?: string;
  version?: string;
}

export interface KibanaStandIn {
  /** Where it listens now (after a restart: where kibana.yml said then). */
  readonly port: number;
  readonly url: string;
  baseDir: string;
  /** Stands in for /etc/kibana (holds kibana.yml). */
  configDir: string;
  /** A shell command that restarts it, as `systemctl restart kibana` does Kibana (for kibana_restart_command). */
  restartCommand: string;
  /** Restarts so far. */
  restarts(): number;
  /** Whether it serves now (false after a restart on a configuration it refused). */
  running(): boolean;
  /** The settings it started with last (dotted keys), as kibana.yml said then. */
  settings(): Record<string, unknown>;
  /** Its log (Kibana's `logging.dest`): why a restart did not start it. */
  logFile: string;
  stop(): Promise<void>;
}

export interface KibanaOptions extends BaseServerOptions {
  /** Address to listen on (default 127.0.0.1); kibana.yml's server.host says the same. */
  host?: string;
  /** The Open Distro security plugin with this admin user: basic auth and tenants. */
  security?: { user: string; password: string };
}

/** Types Kibana OSS 7.10 registers as importable and exportable. */
export const EXPORTABLE_TYPES = ['config', 'url', 'index-pattern', 'query', 'search', 'visualization', 'dashboard'];
/**
 * Settings Kibana 7.10 OSS knows (a subset: those LambdaStack's template and common operations
 * use), and the plugin namespace whose names pass unchecked here.
 */
const KNOWN_SETTINGS = new Set([
  'server.host',
  'server.port',
  'server.name',
  'server.basePath',
  'server.ssl.enabled',
  'server.ssl.certificate',
  'server.ssl.key',
  'elasticsearch.hosts',
  'elasticsearch.username',
  'elasticsearch.password',
  'elasticsearch.ssl.verificationMode',
  'elasticsearch.ssl.certificateAuthorities',
  'elasticsearch.requestHeadersWhitelist',
  'elasticsearch.requestTimeout',
  'kibana.index',
  'kibana.defaultAppId',
  'logging.dest',
  'logging.verbose',
  'logging.quiet',
  'logging.silent',
  'path.data',
  'pid.file',
  'i18n.locale',
]);
const PLUGIN_PREFIX = 'opendistro_security.';

/** Why Kibana 7.10 would not start with these settings (its FATAL line), or undefined. */
function refusal(settings: Record<string, unknown>): string | undefined {
  const unknown = unknownSettings(settings, KNOWN_SETTINGS, [PLUGIN_PREFIX]);
  if (unknown.length) {
    return `FATAL  Error: Unknown configuration key(s): ${unknown.map((k) => `"${k}"`).join(', ')}. Check for spelling errors and ensure that expected plugins are installed.`;
  }
  const port = settings['server.port'];
  if (port !== undefined && typeof port !== 'number') {
    return `FATAL  Error: [config validation of [server].port]: expected value of type [number] but got [${typeof port}]`;
  }
  return undefined;
}

/** Reference types 7.10 checks on import (src/core/server/saved_objects/import/validate_references.ts). */
const VALIDATED_REFERENCE_TYPES = ['index-pattern', 'search'];

const key = (type: string, id: string) => `${type}/${id}`;
const kbnError = (status: number, error: string, message: string) => new HttpError(status, { statusCode: status, error, message });

/** The tenant a request works in: the `securitytenant` header, else the preferred one (Private). */
function tenantOf(req: Request, secured: boolean): string {
  if (!secured) return 'default';
  const header = String(req.headers['securitytenant'] ?? '__user__').trim();
  if (['', 'global', '__global__'].includes(header.toLowerCase())) return 'global';
  if (['private', '__user__'].includes(header.toLowerCase())) return 'private';
  return header;
}

export async function startKibanaStandIn(opts: KibanaOptions = {}): Promise<KibanaStandIn> {
  const { baseDir, ownedHere } = await prepareBaseDir('kibana', opts);
  const configDir = join(baseDir, 'etc', 'kibana');
  await makeDirs([configDir]);
  const tenants = new Map<string, Map<string, SavedObject>>();
  const store = (req: Request) => {
    const tenant = tenantOf(req, opts.security !== undefined);
    if (!tenants.has(tenant)) tenants.set(tenant, new Map());
    return tenants.get(tenant)!;
  };
  let writes = 0;

  const save = (objects: Map<string, SavedObject>, o: Omit<SavedObject, 'updated_at' | 'version'>): SavedObject => {
    const stored = { ...o, references: o.references ?? [], updated_at: new Date().toISOString(), version: `Wz${writes++}LDFd` };
    objects.set(key(o.type, o.id), stored);
    return stored;
  };

  const routes: Routes = [
    ['GET', '/api/status', () => ok({ name: 'standin', version: { number: '7.10.2', build_snapshot: false }, status: { overall: { state: 'green' } } })],
    [
      'POST',
      '/api/saved_objects/_export',
      (req) => {
        const objects = store(req);
        const body = req.json<{ type?: string | string[]; objects?: Array<{ type: string; id: string }> }>();
        let chosen: SavedObject[];
        if (body.objects) {
          const refused = body.objects.filter((o) => !EXPORTABLE_TYPES.includes(o.type));
          if (refused.length)
            throw kbnError(400, 'Bad Request', `Trying to export object(s) with non-exportable types: ${refused.map((o) => `${o.type}:${o.id}`).join(', ')}`);
          chosen = body.objects.map((o) => {
            const found = objects.get(key(o.type, o.id));
            if (!found) throw kbnError(400, 'Bad Request', `Error fetching objects to export`);
            return found;
          });
        } else if (body.type) {
          const types = Array.isArray(body.type) ? body.type : [body.type];
          const refused = types.filter((t) => !EXPORTABLE_TYPES.includes(t));
          if (refused.length) throw kbnError(400, 'Bad Request', `Trying to export non-exportable type(s): ${refused.join(', ')}`);
          chosen = [...objects.values()].filter((o) => types.includes(o.type));
        } else {
          throw kbnError(400, 'Bad Request', 'Either `type` or `objects` are required.');
        }
        chosen.sort((a, b) => key(a.type, a.id).localeCompare(key(b.type, b.id)));
        const summary = { exportedCount: chosen.length, missingRefCount: 0, missingReferences: [] };
        const ndjson = [...chosen, summary].map((o) => JSON.stringify(o)).join('\n') + '\n';
        return { status: 200, body: ndjson, contentType: 'application/ndjson', headers: { 'content-disposition': 'attachment; filename="export.ndjson"' } };
      },
    ],
    [
      'POST',
      '/api/saved_objects/_import',
      (req) => {
        const objects = store(req);
        const overwrite = req.query.get('overwrite') === 'true';
        const lines = multipartFile(req)
          .split('\n')
          .filter((l) => l.trim());
        const incoming = lines.map((l) => JSON.parse(l) as SavedObject & { exportedCount?: number }).filter((o) => o.exportedCount === undefined);
        const inFile = new Set(incoming.map((o) => key(o.type, o.id)));
        const errors: unknown[] = [];
        const successResults: unknown[] = [];
        for (const o of incoming) {
          const title = o.attributes?.title;
          if (!EXPORTABLE_TYPES.includes(o.type)) {
            errors.push({ id: o.id, type: o.type, title, meta: { title }, error: { type: 'unsupported_type' } });
            continue;
          }
          const missing = (o.references ?? [])
            .filter((r) => VALIDATED_REFERENCE_TYPES.includes(r.type) && !inFile.has(key(r.type, r.id)) && !objects.has(key(r.type, r.id)))
            .map((r) => ({ type: r.type, id: r.id }));
          if (missing.length) {
            errors.push({ id: o.id, type: o.type, title, meta: { title }, error: { type: 'missing_references', references: missing } });
            continue;
          }
          if (!overwrite && objects.has(key(o.type, o.id))) {
            errors.push({ id: o.id, type: o.type, title, meta: { title }, error: { type: 'conflict' } });
            continue;
          }
          save(objects, { type: o.type, id: o.id, attributes: o.attributes, references: o.references });
          successResults.push({ type: o.type, id: o.id, meta: { title } });
        }
        return ok({
          successCount: successResults.length,
          success: errors.length === 0,
          ...(successResults.length ? { successResults } : {}),
          ...(errors.length ? { errors } : {}),
        });
      },
    ],
    [
      'POST',
      '/api/saved_objects/:type/:id',
      (req) => {
        const objects = store(req);
        const { type, id } = req.params as { type: string; id: string };
        if (objects.has(key(type, id)) && req.query.get('overwrite') !== 'true') {
          throw kbnError(409, 'Conflict', `Saved object [${type}/${id}] conflict`);
        }
        const body = req.json<{ attributes: Record<string, unknown>; references?: SavedObject['references'] }>();
        return ok(save(objects, { type, id, attributes: body.attributes, references: body.references ?? [] }));
      },
    ],
    [
      'GET',
      '/api/saved_objects/:type/:id',
      (req) => {
        const o = store(req).get(key(req.params.type!, req.params.id!));
        if (!o) throw kbnError(404, 'Not Found', `Saved object [${req.params.type}/${req.params.id}] not found`);
        return ok(o);
      },
    ],
    [
      'DELETE',
      '/api/saved_objects/:type/:id',
      (req) => {
        if (!store(req).delete(key(req.params.type!, req.params.id!))) {
          throw kbnError(404, 'Not Found', `Saved object [${req.params.type}/${req.params.id}] not found`);
        }
        return ok({});
      },
    ],
  ];

  const expected = opts.security && 'Basic ' + Buffer.from(`${opts.security.user}:${opts.security.password}`).toString('base64');
  // Set once the first server runs (its guard asks it from the first request on, when it may not be yet).
  // eslint-disable-next-line prefer-const
  let server: RestartableServer | undefined;
  const listen = (host: string | undefined, port: number | undefined) =>
    serveRoutes(routes, {
      host,
      port,
      guard: (req) => {
        if (server?.startingUp()) throw new HttpError(503, 'Kibana server is not ready yet');
        if (expected && req.headers.authorization !== expected) throw kbnError(401, 'Unauthorized', 'Authentication required');
        if (req.method !== 'GET' && req.headers['kbn-xsrf'] === undefined) {
          throw kbnError(400, 'Bad Request', 'Request must contain a kbn-xsrf header.');
        }
      },
    });
  const first = await listen(opts.host, undefined);
  const settingsFile = join(configDir, 'kibana.yml');
  const logFile = join(baseDir, 'kibana.log');
  await writeFile(settingsFile, kibanaYml(first.url, opts.security !== undefined));
  server = await restartableServer({
    first,
    settingsFile,
    logFile,
    refusal,
    listen: (settings) => listen(hostOf(settings), portOf(settings)),
  });
  const lifecycle = server;
  return {
    // Where kibana.yml said when it last started (Kibana's defaults: localhost:5601).
    get port() {
      return portOf(lifecycle.settings());
    },
    get url() {
      return `http://${hostOf(lifecycle.settings())}:${portOf(lifecycle.settings())}`;
    },
    baseDir,
    configDir,
    restartCommand: lifecycle.restartCommand,
    restarts: lifecycle.restarts,
    running: lifecycle.running,
    settings: lifecycle.settings,
    logFile,
    stop: async () => {
      await lifecycle.stop();
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    },
  };
}

const hostOf = (settings: Record<string, unknown>) => String(settings['server.host'] ?? 'localhost');
const portOf = (settings: Record<string, unknown>) => Number(settings['server.port'] ?? 5601);

/** kibana.yml as LambdaStack's roles/kibana/templates/kibana.yml.j2 writes it (plus the stand-in's port). */
function kibanaYml(url: string, secured: boolean): string {
  const { hostname, port } = new URL(url);
  const lines = [`server.host: "${hostname}"`, `server.port: ${port}`, 'elasticsearch.hosts:', '  - "https://localhost:9200"'];
  if (secured) {
    lines.push(
      'elasticsearch.ssl.verificationMode: none',
      'elasticsearch.username: kibanaserver',
      'elasticsearch.requestHeadersWhitelist: ["securitytenant","Authorization"]',
      'opendistro_security.multitenancy.enabled: true',
      'opendistro_security.multitenancy.tenants.preferred: ["Private", "Global"]',
    );
  }
  return lines.join('\n') + '\n';
}

/** The content of the `file` field of a multipart/form-data body (what `curl -F file=@x.ndjson` sends). */
function multipartFile(req: Request): string {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
  if (!boundary) throw kbnError(415, 'Unsupported Media Type', 'Expected multipart/form-data with a file field');
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  for (const part of req.body.toString('utf8').split(delimiter)) {
    const split = part.indexOf('\r\n\r\n');
    if (split < 0 || !/name="file"/.test(part.slice(0, split))) continue;
    return part.slice(split + 4).replace(/\r\n$/, '');
  }
  throw kbnError(400, 'Bad Request', '[request body.file]: expected value of type [Stream] but got [undefined]');
}
