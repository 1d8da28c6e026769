import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** An answer with headers (e.g. 429 with Retry-After). */
export interface Answer {
  status: number;
  headers: Record<string, string>;
}

/**
 * A real HTTP server on 127.0.0.1 that records every request. `respond` picks the answer per
 * path: a status code (or a promise of one: answered when it settles), a status with headers,
 * or 'hang' (never answers, as a stuck endpoint does).
 */
export async function startRecorder(respond: (path: string, count: number) => number | Answer | 'hang' | Promise<number> = () => 200) {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method!, path: req.url!, headers: req.headers, body, at: Date.now() });
      const answer = respond(req.url!, received.filter((r) => r.path === req.url).length);
      if (answer === 'hang') hanging.add(res);
      else if (typeof answer === 'object' && 'status' in answer) res.writeHead(answer.status, answer.headers).end('ok');
      else void Promise.resolve(answer).then((status) => res.writeHead(status).end('ok'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /** Resolves once `n` requests matching `path` arrived. */
    async waitFor(path: string, n = 1, timeoutMs = 120_000): Promise<Received[]> {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hits = received.filter((r) => r.path === path);
        if (hits.length >= n) return hits;
        if (Date.now() > end) throw new Error(`expected ${n} request(s) to ${path}, got ${received.map((r) => r.path).join(', ') || 'none'}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
