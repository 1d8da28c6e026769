/**
 * A STAND-IN for the Azure Files REST API. No emulator implements the File service
 * (Azurite has none), so this node:http server speaks enough of it for the real
 * @azure/storage-file-share SDK to run unchanged against it: create/get share, create/get/
 * delete/list directory, create file (x-ms-type: file, x-ms-content-length), put range
 * (?comp=range, x-ms-range, x-ms-write: update|clear), set properties / resize
 * (?comp=properties), rename (?comp=rename, x-ms-file-rename-source, replace-if-exists: without
 * it a taken destination is refused atomically with 409, as Azure documents),
 * get properties, get file (whole or ranged) and delete.
 *
 * Every request must carry a valid SharedKey signature (HMAC-SHA256 over the canonical
 * string of the Azure Storage SharedKey spec, its x-ms-date within 15 minutes of the service's
 * clock) or an account SAS in its query (`sig=…`: the
 * string-to-sign of service version 2020-12-06 and later, as "Create an account SAS" documents,
 * HMAC'd with the account key; its signed services, resource types, permissions, time window
 * and protocol are enforced with Azure's error codes). A wrong key or signature gets 403
 * AuthenticationFailed. Shares, directories and files are real directories and files under a
 * temp dir.
 *
 * Not a real Azure: no service or user-delegation SAS, no stored access policies, no signed IP
 * ranges, leases, metadata, snapshots, ACLs or listing pages (one page).
 * URLs are path-style (http://127.0.0.1:PORT/<account>/<share>/...); the SDK's rename()
 * drops the account segment from the destination URL, so a path may also start at the share.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { link, mkdir, mkdtemp, open, readdir, rename, rm, stat, truncate, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { requireIntegrationTier } from '../helpers/tier.js';

export interface AzureFileStandIn {
  /** Pass as the target's `endpoint` option. */
  endpoint: string;
  account: string;
  /** Base64 account key, as Azure shows it. */
  accountKey: string;
  /** Where shares live on disk (share = directory), for assertions. */
  dataDir: string;
  stop(): Promise<void>;
}

export interface AzureFileStandInOptions {
  /**
   * The service's clock minus this machine's (a machine whose clock is a day ahead: -86400000):
   * in its Date headers, the times it reports (Last-Modified: a file's mtime plus this), the SAS
   * time window and the x-ms-date check of SharedKey requests.
   */
  clockOffsetMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message = code,
  ) {
    super(message);
  }
}

export async function startAzureFileStandIn(account = 'devstoreaccount1', { clockOffsetMs = 0 }: AzureFileStandInOptions = {}): Promise<AzureFileStandIn> {
  requireIntegrationTier('the Azure Files stand-in');
  const dataDir = await mkdtemp(join(tmpdir(), 'lsbackup-azfile-'));
  const accountKey = randomBytes(64).toString('base64');
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', String((e as Error)?.stack ?? e));
      req.resume();
      sendError(req, res, err, clockOffsetMs);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://standin');
    if (url.searchParams.has('sig')) verifyAccountSas(req.method!, url.searchParams, account, accountKey, clockOffsetMs);
    else verifySharedKey(req, account, accountKey, clockOffsetMs);
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (segments[0] === account) segments.shift();
    const [share, ...rest] = segments;
    if (!share) throw new HttpError(400, 'InvalidUri', 'account-level operations are not supported by the stand-in');
    const q = url.searchParams;
    const shareDir = join(dataDir, share);
    const path = join(shareDir, ...rest);
    const method = req.method!;

    if (q.get('restype') === 'share') {
      if (method === 'PUT') {
        if (await exists(shareDir)) throw new HttpError(409, 'ShareAlreadyExists');
        await mkdir(shareDir);
        return reply(res, 201, await entityHeadersOf(shareDir, clockOffsetMs));
      }
      const s = await statOrThrow(shareDir, 'ShareNotFound');
      return reply(res, 200, { ...entityHeaders(s, clockOffsetMs), 'x-ms-share-quota': '5120' });
    }
    await statOrThrow(shareDir, 'ShareNotFound');

    if (q.get('restype') === 'directory') {
      if (q.get('comp') === 'list' && method === 'GET') return listDirectory(res, url, share, rest, path);
      if (method === 'PUT') {
        await statOrThrow(join(path, '..'), 'ParentNotFound');
        if (await exists(path)) throw new HttpError(409, 'ResourceAlreadyExists');
        await mkdir(path);
        return reply(res, 201, await entityHeadersOf(path, clockOffsetMs));
      }
      const s = await statOrThrow(path, 'ResourceNotFound');
      if (!s.isDirectory()) throw new HttpError(404, 'ResourceNotFound');
      if (method === 'DELETE') {
        if ((await readdir(path)).length > 0) throw new HttpError(409, 'DirectoryNotEmpty');
        await rm(path, { recursive: true });
        return reply(res, 202, {});
      }
      return reply(res, 200, { ...entityHeaders(s, clockOffsetMs), 'x-ms-file-attributes': 'Directory' });
    }

    // Everything else addresses a file.
    const comp = q.get('comp');
    if (method === 'PUT' && comp === null) {
      if (req.headers['x-ms-type']?.toString().toLowerCase() !== 'file') throw new HttpError(400, 'MissingRequiredHeader', 'x-ms-type: file is required');
      const size = Number(req.headers['x-ms-content-length']);
      if (!Number.isInteger(size) || size < 0) throw new HttpError(400, 'MissingRequiredHeader', 'x-ms-content-length is required');
      await statOrThrow(join(path, '..'), 'ParentNotFound');
      await (await open(path, 'w')).close();
      await truncate(path, size);
      return reply(res, 201, await entityHeadersOf(path, clockOffsetMs));
    }
    if (method === 'PUT' && comp === 'range') return putRange(req, res, path);
    if (method === 'PUT' && comp === 'properties') {
      await statOrThrow(path, 'ResourceNotFound');
      const size = req.headers['x-ms-content-length'];
      if (size !== undefined) await truncate(path, Number(size));
      return reply(res, 200, await entityHeadersOf(path, clockOffsetMs));
    }
    if (method === 'PUT' && comp === 'rename') return renameFile(req, res, shareDir, path);
    const s = await statOrThrow(path, 'ResourceNotFound');
    if (!s.isFile()) throw new HttpError(404, 'ResourceNotFound');
    if (method === 'DELETE') {
      await rm(path);
      return reply(res, 202, {});
    }
    if (method === 'HEAD') return reply(res, 200, fileHeaders(s, s.size, clockOffsetMs));
    if (method === 'GET') return getFile(req, res, path, s);
    throw new HttpError(400, 'UnsupportedHttpVerb', `${method} ${comp ?? ''} is not supported by the stand-in`);
  }

  async function putRange(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const s = await statOrThrow(path, 'ResourceNotFound');
    const range = parseRange(String(req.headers['x-ms-range'] ?? req.headers.range ?? ''));
    if (!range) throw new HttpError(400, 'InvalidHeaderValue', 'x-ms-range bytes=start-end is required');
    if (range.end >= s.size) throw new HttpError(416, 'InvalidRange');
    const length = range.end - range.start + 1;
    if (req.headers['x-ms-write'] === 'clear') {
      const fh = await open(path, 'r+');
      await fh.write(Buffer.alloc(length), 0, length, range.start);
      await fh.close();
    } else {
      if (Number(req.headers['content-length']) !== length) throw new HttpError(400, 'InvalidHeaderValue', 'Content-Length must equal the range length');
      await pipeline(req, createWriteStream(path, { flags: 'r+', start: range.start }));
    }
    return reply(res, 201, await entityHeadersOf(path, clockOffsetMs));
  }

  async function renameFile(req: IncomingMessage, res: ServerResponse, shareDir: string, dest: string): Promise<void> {
    const source = new URL(String(req.headers['x-ms-file-rename-source'] ?? ''), 'http://standin');
    const sourceSegments = source.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (sourceSegments[0] === account) sourceSegments.shift();
    const sourcePath = join(dataDir, ...sourceSegments);
    if (!sourcePath.startsWith(shareDir + '/')) throw new HttpError(400, 'InvalidHeaderValue', 'rename source must be in the same share');
    await statOrThrow(sourcePath, 'ResourceNotFound');
    await statOrThrow(join(dest, '..'), 'ParentNotFound');
    // Azure: without x-ms-file-rename-replace-if-exists: true a taken destination is never
    // overwritten (409 ResourceAlreadyExists), atomically: link() refuses a taken name.
    const replace = String(req.headers['x-ms-file-rename-replace-if-exists']).toLowerCase() === 'true';
    if (replace) await rename(sourcePath, dest);
    else {
      await link(sourcePath, dest).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? new HttpError(409, 'ResourceAlreadyExists') : e;
      });
      await unlink(sourcePath);
    }
    return reply(res, 200, await entityHeadersOf(dest, clockOffsetMs));
  }

  async function getFile(req: IncomingMessage, res: ServerResponse, path: string, s: Stats): Promise<void> {
    const header = req.headers['x-ms-range'] ?? req.headers.range;
    const range = header ? parseRange(String(header)) : undefined;
    if (range) {
      const end = Math.min(range.end, s.size - 1);
      if (range.start >= s.size) throw new HttpError(416, 'InvalidRange');
      res.writeHead(206, {
        ...commonHeaders(req, clockOffsetMs),
        ...fileHeaders(s, end - range.start + 1, clockOffsetMs),
        'Content-Range': `bytes ${range.start}-${end}/${s.size}`,
      });
      await pipeline(createReadStream(path, { start: range.start, end }), res);
    } else {
      res.writeHead(200, { ...commonHeaders(req, clockOffsetMs), ...fileHeaders(s, s.size, clockOffsetMs) });
      await pipeline(createReadStream(path), res);
    }
  }

  async function listDirectory(res: ServerResponse, url: URL, share: string, rest: string[], path: string): Promise<void> {
    const s = await statOrThrow(path, 'ResourceNotFound');
    if (!s.isDirectory()) throw new HttpError(404, 'ResourceNotFound');
    const prefix = url.searchParams.get('prefix') ?? '';
    const entries: string[] = [];
    for (const name of (await readdir(path)).sort()) {
      if (!name.startsWith(prefix)) continue;
      const e = await stat(join(path, name));
      const mtime = new Date(e.mtimeMs + clockOffsetMs);
      const times = `<Last-Modified>${mtime.toUTCString()}</Last-Modified><LastWriteTime>${mtime.toISOString()}</LastWriteTime>`;
      entries.push(
        e.isDirectory()
          ? `<Directory><Name>${xml(name)}</Name><Properties>${times}</Properties></Directory>`
          : `<File><Name>${xml(name)}</Name><Properties><Content-Length>${e.size}</Content-Length>${times}</Properties></File>`,
      );
    }
    const body =
      `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://standin/${xml(account)}/" ` +
      `ShareName="${xml(share)}" DirectoryPath="${xml(rest.join('/'))}"><Prefix>${xml(prefix)}</Prefix>` +
      `<Entries>${entries.join('')}</Entries><NextMarker /></EnumerationResults>`;
    reply(res, 200, { 'Content-Type': 'application/xml' }, body);
  }

  function reply(res: ServerResponse, status: number, headers: Record<string, string>, body?: string): void {
    // HEAD replies carry the entity's Content-Length but no body.
    res.writeHead(status, { ...commonHeaders(res.req, clockOffsetMs), 'Content-Length': String(Buffer.byteLength(body ?? '')), ...headers });
    res.end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}/${account}`,
    account,
    accountKey,
    dataDir,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Recompute the SharedKey signature from the request as received, per the spec. */
function verifySharedKey(req: IncomingMessage, account: string, accountKey: string, offsetMs: number): void {
  const auth = String(req.headers.authorization ?? '');
  const match = /^SharedKey ([^:]+):(.+)$/.exec(auth);
  if (!match) throw new HttpError(403, 'AuthenticationFailed', 'a SharedKey Authorization header is required');
  const header = (name: string) => {
    const v = req.headers[name];
    const value = Array.isArray(v) ? v.join(',') : (v ?? '');
    return name === 'content-length' && value === '0' ? '' : value;
  };
  const canonicalHeaders = Object.keys(req.headers)
    .filter((h) => h.startsWith('x-ms-'))
    .sort()
    .map((h) => `${h}:${header(h).replace(/\s+/g, ' ').trim()}\n`)
    .join('');
  const url = new URL(req.url!, 'http://standin');
  const queries = [...url.searchParams.keys()].map((k) => k.toLowerCase()).sort();
  const canonicalResource = `/${account}${url.pathname}` + queries.map((k) => `\n${k}:${url.searchParams.getAll(k).join(',')}`).join('');
  const stringToSign =
    [
      req.method!.toUpperCase(),
      ...[
        'content-language',
        'content-encoding',
        'content-length',
        'content-md5',
        'content-type',
        'date',
        'if-modified-since',
        'if-match',
        'if-none-match',
        'if-unmodified-since',
        'range',
      ].map(header),
    ].join('\n') +
    '\n' +
    canonicalHeaders +
    canonicalResource;
  const expected = createHmac('sha256', Buffer.from(accountKey, 'base64')).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(match[2], 'base64');
  if (match[1] !== account || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HttpError(
      403,
      'AuthenticationFailed',
      'Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.',
    );
  }
  // A signed request is good for 15 minutes either side of the service's clock.
  const sent = String(req.headers['x-ms-date'] ?? req.headers.date ?? '');
  if (!(Math.abs(Date.parse(sent) - (Date.now() + offsetMs)) <= 15 * 60_000)) {
    throw new HttpError(403, 'AuthenticationFailed', `Server failed to authenticate the request. Request date header too old: '${sent}'`);
  }
}

/**
 * An account SAS (https://learn.microsoft.com/rest/api/storageservices/create-account-sas):
 * the signature over the documented string-to-sign, then what it grants. What each operation
 * needs follows the permission table there: r read, w write, d delete, l list, c create
 * (files); resource types s service, c container (shares, listings), o object (files).
 */
function verifyAccountSas(method: string, q: URLSearchParams, account: string, accountKey: string, offsetMs: number): void {
  const p = (name: string) => q.get(name) ?? '';
  const stringToSign = [account, p('sp'), p('ss'), p('srt'), p('st'), p('se'), p('sip'), p('spr'), p('sv'), p('ses'), ''].join('\n');
  const expected = createHmac('sha256', Buffer.from(accountKey, 'base64')).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(p('sig'), 'base64');
  if (p('sv') < '2020-12-06' || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HttpError(403, 'AuthenticationFailed', `Server failed to authenticate the request. Signature did not match.`);
  }
  const now = Date.now() + offsetMs;
  if ((p('st') && Date.parse(p('st')) > now) || !(Date.parse(p('se')) > now)) {
    throw new HttpError(403, 'AuthenticationFailed', 'Signed expiry time must be after the current time (or the start time is in the future).');
  }
  if (p('spr') === 'https')
    throw new HttpError(403, 'AuthorizationProtocolMismatch', 'This request is not authorized to perform this operation using this protocol.');
  if (!p('ss').includes('f'))
    throw new HttpError(403, 'AuthorizationServiceMismatch', 'This request is not authorized to perform this operation using this service.');
  const need = sasNeeds(method, q);
  if (!need.resourceTypes.some((t) => p('srt').includes(t))) {
    throw new HttpError(403, 'AuthorizationResourceTypeMismatch', 'This request is not authorized to perform this operation using this resource type.');
  }
  if (!need.permissions.some((perm) => p('sp').includes(perm))) {
    throw new HttpError(403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.');
  }
}

/** The account SAS resource types and permissions (any one of each) an operation needs. */
function sasNeeds(method: string, q: URLSearchParams): { resourceTypes: string[]; permissions: string[] } {
  const restype = q.get('restype');
  const comp = q.get('comp');
  const byMethod = (create: string[]) => (method === 'GET' || method === 'HEAD' ? ['r'] : method === 'DELETE' ? ['d'] : comp === null ? create : ['w']);
  if (restype === 'share') return { resourceTypes: ['c'], permissions: byMethod(['c', 'w']) };
  if (restype === 'directory') return { resourceTypes: comp === 'list' ? ['c'] : ['c', 'o'], permissions: comp === 'list' ? ['l'] : byMethod(['c', 'w']) };
  return { resourceTypes: ['o'], permissions: byMethod(['c', 'w']) };
}

function sendError(req: IncomingMessage, res: ServerResponse, err: HttpError, offsetMs: number): void {
  if (res.headersSent) return void res.destroy();
  const body =
    req.method === 'HEAD' ? '' : `<?xml version="1.0" encoding="utf-8"?><Error><Code>${err.code}</Code><Message>${xml(err.message)}</Message></Error>`;
  res.writeHead(err.status, {
    ...commonHeaders(req, offsetMs),
    'x-ms-error-code': err.code,
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function commonHeaders(req: IncomingMessage, offsetMs: number): Record<string, string> {
  return {
    'x-ms-request-id': randomBytes(8).toString('hex'),
    'x-ms-version': String(req.headers['x-ms-version'] ?? '2025-05-05'),
    Date: new Date(Date.now() + offsetMs).toUTCString(),
  };
}

function entityHeaders(s: Stats, offsetMs: number): Record<string, string> {
  return {
    ETag: `"0x${Math.floor(s.mtimeMs * 1000)
      .toString(16)
      .toUpperCase()}"`,
    'Last-Modified': new Date(s.mtimeMs + offsetMs).toUTCString(),
  };
}

async function entityHeadersOf(path: string, offsetMs: number): Promise<Record<string, string>> {
  return entityHeaders(await stat(path), offsetMs);
}

function fileHeaders(s: Stats, length: number, offsetMs: number): Record<string, string> {
  return {
    ...entityHeaders(s, offsetMs),
    'Content-Length': String(length),
    'Content-Type': 'application/octet-stream',
    'x-ms-type': 'File',
    'Accept-Ranges': 'bytes',
  };
}

function parseRange(value: string): { start: number; end: number } | undefined {
  const m = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  return m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
}

async function statOrThrow(path: string, code: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch {
    throw new HttpError(404, code);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The stand-in's share `share` through the real SDK, signed with the account key. */
export async function shareOf(standIn: AzureFileStandIn, share: string): Promise<import('@azure/storage-file-share').ShareClient> {
  const { ShareServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-file-share');
  return new ShareServiceClient(standIn.endpoint, new StorageSharedKeyCredential(standIn.account, standIn.accountKey)).getShareClient(share);
}
