import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LsError } from '../errors.js';
import type { MetricsStore } from './store.js';

/**
 * `host:port`, `:port` (every interface) or `port`; `[::1]:port` for IPv6. The host is split off
 * at the last colon only: a pattern with an optional host once read `19469` as host `1946`, port 9.
 */
export function parseListenAddress(text: string): { host?: string; port: number } {
  const usage = () => new LsError('EUSAGE', { message: `--metrics-listen ${text}: expected host:port, :port or port (e.g. 127.0.0.1:9469, [::1]:9469)` });
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(':');
  const portText = trimmed.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port <= 65535)) throw usage();
  if (colon < 0) return { port };
  const hostText = trimmed.slice(0, colon);
  const bracketed = /^\[([^\]]+)\]$/.exec(hostText);
  if (bracketed) return { host: bracketed[1], port };
  // An unbracketed IPv6 address (::1:9469) is ambiguous: its last group could be the port.
  if (hostText.includes(':') || /[[\]]/.test(hostText)) throw usage();
  return { host: hostText || undefined, port };
}

/** Serves GET /metrics from the store until closed; resolves once listening, with the bound address. */
export async function serveMetrics(address: string, store: MetricsStore): Promise<{ url: string; close: () => Promise<void> }> {
  const { host, port } = parseListenAddress(address);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('lsbackup serves /metrics only\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(store.render());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new LsError('EUSAGE', { message: `--metrics-listen ${address}: cannot listen (${e.code ?? e.message}); pick a free port or address` })),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shownHost}:${bound.port}/metrics`,
    close: () => {
      // A scraper's keep-alive connection must not hold up the exit.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      return closed;
    },
  };
}
