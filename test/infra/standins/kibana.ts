/**
 * STAND-IN for Kibana: not packaged anywhere reachable from this machine (TEST-INFRA.md).
 * Implements the saved-objects API a Kibana recipe calls with curl: `_export` (ndjson, the
 * export summary as the last line), `_import` (multipart `file` field, `overwrite`), and
 * single-object create/get/delete to seed and check data. Like Kibana, every write needs a
 * `kbn-xsrf` header. Objects live in memory.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BaseServerOptions, prepareBaseDir, makeDirs } from '../servers/common.js';
import { HttpError, ok, serveRoutes, type Request, type Routes } from './http.js';

export interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: Array<{ type: string; id: string; name: string }>;
  updated_at?: string;
  version?: string;
}

export interface KibanaStandIn {
  port: number;
  url: string;
  baseDir: string;
  /** Stands in for /etc/kibana (holds kibana.yml). */
  configDir: string;
  stop(): Promise<void>;
}

const key = (type: string, id: string) => `${type}/${id}`;
const kbnError = (status: number, error: string, message: string) => new HttpError(status, { statusCode: status, error, message });

export async function startKibanaStandIn(opts: BaseServerOptions = {}): Promise<KibanaStandIn> {
  const { baseDir, ownedHere } = await prepareBaseDir('kibana', opts);
  const configDir = join(baseDir, 'etc', 'kibana');
  await makeDirs([configDir]);
  await writeFile(join(configDir, 'kibana.yml'), 'server.host: 127.0.0.1\nelasticsearch.hosts: ["http://127.0.0.1:9200"]\n');
  const objects = new Map<string, SavedObject>();

  const save = (o: Omit<SavedObject, 'updated_at' | 'version'>): SavedObject => {
    const stored = { ...o, references: o.references ?? [], updated_at: new Date().toISOString(), version: `Wz${objects.size}LDFd` };
    objects.set(key(o.type, o.id), stored);
    return stored;
  };

  const routes: Routes = [
    ['GET', '/api/status', () => ok({ name: 'standin', version: { number: '7.10.2' }, status: { overall: { state: 'green' } } })],
    ['POST', '/api/saved_objects/_export', (req) => {
      const body = req.json<{ type?: string | string[]; objects?: Array<{ type: string; id: string }> }>();
      let chosen: SavedObject[];
      if (body.objects) {
        chosen = body.objects.map((o) => {
          const found = objects.get(key(o.type, o.id));
          if (!found) throw kbnError(400, 'Bad Request', `Error fetching objects to export`);
          return found;
        });
      } else if (body.type) {
        const types = Array.isArray(body.type) ? body.type : [body.type];
        chosen = [...objects.values()].filter((o) => types.includes(o.type));
      } else {
        throw kbnError(400, 'Bad Request', 'Either `type` or `objects` are required.');
      }
      chosen.sort((a, b) => key(a.type, a.id).localeCompare(key(b.type, b.id)));
      const summary = { exportedCount: chosen.length, missingRefCount: 0, missingReferences: [], excludedObjects: [], excludedObjectsCount: 0 };
      const ndjson = [...chosen, summary].map((o) => JSON.stringify(o)).join('\n') + '\n';
      return { status: 200, body: ndjson, contentType: 'application/ndjson', headers: { 'content-disposition': 'attachment; filename="export.ndjson"' } };
    }],
    ['POST', '/api/saved_objects/_import', (req) => {
      const overwrite = req.query.get('overwrite') === 'true';
      const lines = multipartFile(req).split('\n').filter((l) => l.trim());
      const incoming = lines.map((l) => JSON.parse(l) as SavedObject & { exportedCount?: number }).filter((o) => o.exportedCount === undefined);
      const errors: unknown[] = [];
      const successResults: unknown[] = [];
      for (const o of incoming) {
        if (!overwrite && objects.has(key(o.type, o.id))) {
          errors.push({ id: o.id, type: o.type, title: o.attributes?.title, error: { type: 'conflict' } });
          continue;
        }
        save({ type: o.type, id: o.id, attributes: o.attributes, references: o.references });
        successResults.push({ type: o.type, id: o.id, meta: { title: o.attributes?.title } });
      }
      return ok({ success: errors.length === 0, successCount: successResults.length, successResults, ...(errors.length ? { errors } : {}) });
    }],
    ['POST', '/api/saved_objects/:type/:id', (req) => {
      const { type, id } = req.params as { type: string; id: string };
      if (objects.has(key(type, id)) && req.query.get('overwrite') !== 'true') {
        throw kbnError(409, 'Conflict', `Saved object [${type}/${id}] conflict`);
      }
      const body = req.json<{ attributes: Record<string, unknown>; references?: SavedObject['references'] }>();
      return ok(save({ type, id, attributes: body.attributes, references: body.references ?? [] }));
    }],
    ['GET', '/api/saved_objects/:type/:id', (req) => {
      const o = objects.get(key(req.params.type!, req.params.id!));
      if (!o) throw kbnError(404, 'Not Found', `Saved object [${req.params.type}/${req.params.id}] not found`);
      return ok(o);
    }],
    ['DELETE', '/api/saved_objects/:type/:id', (req) => {
      if (!objects.delete(key(req.params.type!, req.params.id!))) {
        throw kbnError(404, 'Not Found', `Saved object [${req.params.type}/${req.params.id}] not found`);
      }
      return ok({});
    }],
  ];

  const http = await serveRoutes(routes, {
    guard: (req) => {
      if (req.method !== 'GET' && req.headers['kbn-xsrf'] === undefined) {
        throw kbnError(400, 'Bad Request', 'Request must contain a kbn-xsrf header.');
      }
    },
  });
  return {
    port: http.port, url: http.url, baseDir, configDir,
    stop: async () => {
      await http.stop();
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    },
  };
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
