/**
 * An HTTP proxy between lsbackup and the real Swift s3api server (test/infra/swift.ts) that the
 * fault tests steer: count part uploads, stop the endpoint dead (listener closed, every
 * connection destroyed: later requests get ECONNREFUSED), answer chosen requests with an
 * error of their own, rewrite an answer, or stall them (never answer, or stop partway through an answer). Headers pass unchanged, so the SDK's signatures still verify upstream.
 */
import http from 'node:http';

export interface ProxyRule {
  /** An S3 error response for this request instead of forwarding it (undefined: forward). */
  answer?(req: http.IncomingMessage): { status: number; code: string } | undefined;
  /** Cut the connection after this many bytes of the answer (undefined: the whole answer). */
  cutAnswerAfter?(req: http.IncomingMessage): number | undefined;
  /** Stall: forward the answer's headers and this many bytes of its body, then send nothing more, the connection left open. */
  stallAnswerAfter?(req: http.IncomingMessage): number | undefined;
  /** Stall: take the request and never answer it (nor read its body), the connection left open. */
  hold?(req: http.IncomingMessage): boolean;
  /** Rewrite the (small, whole) answer body before it is passed on: a store answering what the real one does not. */
  rewriteAnswer?(req: http.IncomingMessage): ((body: string) => string) | undefined;
  /** Called as each part upload (PUT ?partNumber=) starts, with how many have started. */
  onPart?(count: number, proxy: S3Proxy): void;
}

export interface S3Proxy {
  endpoint: string;
  /** Part uploads started so far. */
  readonly parts: number;
  /** Requests answered by rule.answer. */
  readonly answered: number;
  /** Requests taken and never answered (rule.hold). */
  readonly held: number;
  /** Every request seen: `METHOD /path?query`. */
  readonly requests: string[];
  /** The headers of each request in `requests`, at the same index. */
  readonly requestHeaders: http.IncomingHttpHeaders[];
  /** Stop the endpoint: no listener, every open connection destroyed. */
  kill(): void;
  close(): Promise<void>;
}

export function startS3Proxy(upstream: string, rule: ProxyRule = {}): Promise<S3Proxy> {
  const target = new URL(upstream);
  const upstreamRequests = new Set<http.ClientRequest>();
  let parts = 0;
  let answered = 0;
  let held = 0;
  const requests: string[] = [];
  const requestHeaders: http.IncomingHttpHeaders[] = [];
  let dead = false;
  const server = http.createServer((req, res) => {
    if (dead) return req.socket.destroy();
    requests.push(`${req.method} ${req.url}`);
    requestHeaders.push(req.headers);
    const error = rule.answer?.(req);
    if (error) {
      answered++;
      req.resume();
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${error.code}</Code><Message>${error.code} (test proxy)</Message></Error>`;
      res.writeHead(error.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    if (rule.hold?.(req)) {
      held++;
      return;
    }
    if (req.method === 'PUT' && /[?&]partNumber=/.test(req.url ?? '')) {
      parts++;
      rule.onPart?.(parts, proxy);
      if (dead) return req.socket.destroy();
    }
    // `expect` is never signed; without it the body flows at once.
    const { expect: _expect, ...headers } = req.headers;
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (upRes) => {
      const rewrite = rule.rewriteAnswer?.(req);
      if (rewrite) {
        const chunks: Buffer[] = [];
        upRes.on('data', (chunk: Buffer) => chunks.push(chunk));
        upRes.on('end', () => {
          const body = rewrite(Buffer.concat(chunks).toString('utf8'));
          res.writeHead(upRes.statusCode ?? 502, { ...upRes.headers, 'content-length': Buffer.byteLength(body) }).end(body);
        });
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      const stallAfter = rule.stallAnswerAfter?.(req);
      if (stallAfter !== undefined) {
        res.flushHeaders();
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (sent < stallAfter) res.write(chunk.subarray(0, stallAfter - sent));
          sent += chunk.length;
          if (sent >= stallAfter) upRes.pause(); // and nothing more, ever
        });
        return;
      }
      const cutAfter = rule.cutAnswerAfter?.(req);
      if (cutAfter === undefined) return void upRes.pipe(res);
      let sent = 0;
      upRes.on('data', (chunk: Buffer) => {
        if (sent >= cutAfter) return;
        res.write(chunk.subarray(0, cutAfter - sent));
        sent += chunk.length;
        if (sent >= cutAfter) setImmediate(() => (req.socket.destroy(), up.destroy()));
      });
    });
    upstreamRequests.add(up);
    up.on('close', () => upstreamRequests.delete(up));
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  });
  const proxy: S3Proxy = {
    endpoint: '',
    get parts() {
      return parts;
    },
    get answered() {
      return answered;
    },
    get held() {
      return held;
    },
    requests,
    requestHeaders,
    kill() {
      dead = true;
      server.close();
      server.closeAllConnections();
      for (const up of upstreamRequests) up.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.kill();
        server.close(() => resolve());
      }),
  };
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      proxy.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      resolve(proxy);
    });
  });
}
