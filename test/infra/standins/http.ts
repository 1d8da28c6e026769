/**
 * The small HTTP machinery the HTTP stand-ins share: a route table matched by method and
 * path pattern, JSON bodies, errors shaped like the real product's, listening on a free
 * port (127.0.0.1 unless told), plain HTTP or HTTPS, and a stop() that closes every connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as TlsServerOptions } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { LOOPBACK } from '../servers/common.js';
import { requireIntegrationTier } from '../../helpers/tier.js';

export interface Request {
  method: string;
  path: string;
  /** Named path parts, from `:name` in the route pattern. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
  json<T = any>(): T;
  /** Over HTTPS: the client certificate, when one was presented and verified against `tls.ca`. */
  clientCert?: PeerCertificate;
}

export interface Reply {
  status: number;
  /** Objects are sent as JSON; strings as-is (with `contentType`). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Handler = (req: Request) => Reply | Promise<Reply>;
export type Routes = Array<[method: string, pattern: string, handler: Handler]>;

/** Thrown by handlers to answer with an error in the product's own shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

export interface RunningHttp {
  port: number;
  url: string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Runs before every route (e.g. auth). */
  guard?: (req: Request) => void;
  port?: number;
  /** Address to listen on (default 127.0.0.1), e.g. the host's own IPv4 as a product binds to it. */
  host?: string;
  /**
   * HTTPS with this certificate and key (PEM); the url then starts with https://. A client
   * certificate is asked for (`requestCert`), and one that does not verify against `tls.ca`
   * (expired, unknown issuer) ends the connection, as a TLS server with optional client
   * authentication does.
   */
  tls?: TlsServerOptions;
}

/** Serves `routes` on a free port. */
export async function serveRoutes(routes: Routes, opts: ServeOptions = {}): Promise<RunningHttp> {
  requireIntegrationTier('a component stand-in server');
  const compiled = routes.map(([method, pattern, handler]) => ({ method, ...compile(pattern), handler }));
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const base = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      const json = () => (body.length ? JSON.parse(body.toString('utf8')) : {});
      let matched: { handler: Handler; params: Record<string, string> } | undefined;
      for (const r of compiled) {
        const m = r.method === base.method ? r.regex.exec(url.pathname) : null;
        if (m) {
          matched = { handler: r.handler, params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
          break;
        }
      }
      const socket = req.socket as Partial<TLSSocket>;
      const peer = opts.tls && socket.authorized ? socket.getPeerCertificate?.() : undefined;
      const request: Request = { ...base, params: matched?.params ?? {}, json, ...(peer?.subject ? { clientCert: peer } : {}) };
      opts.guard?.(request);
      if (!matched) throw new HttpError(404, { error: `no handler for ${base.method} ${url.pathname}`, status: 404 });
      send(res, await matched.handler(request));
    } catch (e) {
      if (e instanceof HttpError) send(res, { status: e.status, body: e.body });
      else send(res, { status: 500, body: { error: String(e), status: 500 } });
    }
  };
  // handle() answers every error itself, so its promise never rejects.
  const serve = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server = opts.tls ? createTlsServer({ ...opts.tls, requestCert: true, rejectUnauthorized: false }, serve) : createServer(serve);
  if (opts.tls) {
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized && socket.getPeerCertificate()?.subject) socket.destroy();
    });
  }
  const host = opts.host ?? LOOPBACK;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    port,
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, reply: Reply): void {
  const isText = typeof reply.body === 'string' || Buffer.isBuffer(reply.body);
  const payload = reply.body === undefined ? '' : isText ? (reply.body as string) : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? (isText ? 'text/plain' : 'application/json'),
    ...reply.headers,
  });
  res.end(payload);
}

/** '/_snapshot/:repo/:snap' -> regex + param names. */
function compile(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { regex: new RegExp(`^${source}/?$`), names };
}

export const ok = (body: unknown = {}, status = 200): Reply => ({ status, body });
