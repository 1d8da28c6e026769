import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import yauzl from 'yauzl';
import { archiveError } from './entry.js';
import { TAR_TYPES } from './tar-types.js';
import type { ArchiveFormat, EntrySpec, EntryType } from './types.js';
import { createZstdDecompressor } from './zstd.js';

/** An entry as read back; `size` is always known. */
export type ReadEntrySpec = EntrySpec & { type: EntryType; size: number; mode: number; mtime: Date };

export interface ArchiveItem {
  entry: ReadEntrySpec;
  /** The body; consume it before asking for the next item (unread bodies are skipped). */
  body: Readable;
}

export interface ArchiveReaderOptions {
  /** Where a zip is spooled for random access (default: the OS temp dir). */
  spoolDir?: string;
  zstdCommand?: string;
  /** Told about entries of a kind lsbackup never writes (device files, FIFOs); they are skipped. */
  onUnsupportedEntry?: (path: string, tarType: string) => void;
}

const FORMAT_BY_SUFFIX: [string, ArchiveFormat][] = [
  ['.tar.gz', 'tar.gz'],
  ['.tgz', 'tar.gz'],
  ['.tar.zst', 'tar.zst'],
  ['.tzst', 'tar.zst'],
  ['.zip', 'zip'],
];

/** The archive format from an object name (`lsbackup-x-...tar.gz` -> 'tar.gz'). */
export function formatFromName(name: string): ArchiveFormat {
  // An encrypted archive (`….tar.gz.age`) holds the format its name had before encryption.
  const lower = name.toLowerCase().replace(/\.age$/, '');
  const found = FORMAT_BY_SUFFIX.find(([suffix]) => lower.endsWith(suffix));
  if (!found) throw archiveError(name, 'unknown archive format; expected a name ending in .tar.gz, .tar.zst or .zip');
  return found[1];
}

export function openArchiveReader(stream: Readable, format: ArchiveFormat, options: ArchiveReaderOptions = {}): AsyncIterable<ArchiveItem> {
  if (format === 'zip') return readZip(stream, options.spoolDir ?? tmpdir());
  const decompressor = format === 'tar.gz' ? createGunzip() : createZstdDecompressor(options.zstdCommand);
  stream.on('error', (err) => decompressor.destroy(err));
  return readTar(stream.pipe(decompressor), options.onUnsupportedEntry);
}

/**
 * Pull-based over node-tar's Parser: the parser's write() returns false while an entry's body
 * is unread, so feeding waits for 'drain' and memory stays bounded.
 */
async function* readTar(tarBytes: Readable, onUnsupported?: (path: string, tarType: string) => void): AsyncGenerator<ArchiveItem> {
  const parser = new Parser({ strict: true });
  const ready: ReadEntry[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let currentBody: Readable | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  // A damaged archive must reach whoever is waiting: the iterator or the body being read.
  const fail = (err: Error) => {
    failure ??= err;
    currentBody?.destroy(failure);
    notify();
  };
  parser.on('entry', (e: ReadEntry) => {
    ready.push(e);
    notify();
  });
  parser.on('warn', (_code: string, message: string | Error) =>
    fail(archiveError('tar', typeof message === 'string' ? message : message.message)),
  );
  parser.on('error', fail);
  parser.on('end', () => {
    ended = true;
    notify();
  });
  const feeding = (async () => {
    for await (const chunk of tarBytes) {
      if (!parser.write(chunk)) await new Promise<void>((resolve) => parser.once('drain', resolve));
    }
    parser.end();
  })().catch(fail);

  let current: ReadEntry | undefined;
  try {
    for (;;) {
      if (failure) throw failure;
      const next = ready.shift();
      if (next) {
        current = next;
        const type = TAR_TYPES[next.type];
        if (!type) {
          onUnsupported?.(next.path, next.type);
          next.resume(); // pax/GNU meta entries are applied by the parser; skip anything else
          continue;
        }
        const body = failingWith(next, () => failure);
        currentBody = body;
        yield {
          entry: {
            path: next.path.replace(/\/+$/, ''),
            type,
            size: type === 'file' ? next.size : 0,
            mode: (next.mode ?? 0) & 0o7777,
            mtime: next.mtime ?? new Date(0),
            uid: next.uid,
            gid: next.gid,
            uname: next.uname,
            gname: next.gname,
            linkpath: next.linkpath || undefined,
          },
          body,
        };
        if (!body.readableEnded) {
          body.destroy();
          next.resume(); // the consumer skipped the body: let the parser move on
        }
        continue;
      }
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await feeding;
    if (failure) throw failure;
  } finally {
    current?.resume();
    tarBytes.destroy();
  }
}

/**
 * A tar body as a Node Readable that errors when the archive underneath fails (bad gzip,
 * truncated), so a reader of the body learns about it instead of seeing a silent end.
 */
function failingWith(entry: ReadEntry, failure: () => Error | undefined): Readable {
  const body = new Readable({ read() { entry.resume(); } });
  entry.on('data', (chunk: Buffer) => {
    if (!body.push(chunk)) entry.pause();
  });
  entry.on('end', () => {
    const err = failure();
    if (err) body.destroy(err);
    else body.push(null);
  });
  entry.pause();
  return body;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/**
 * zip needs its central directory (at the end) to be read reliably, so the stream is spooled
 * to a private temp file and read with yauzl; the file is removed when iteration ends.
 */
async function* readZip(stream: Readable, spoolDir: string): AsyncGenerator<ArchiveItem> {
  const path = join(spoolDir, `.lsbackup-spool-${randomBytes(8).toString('hex')}.zip`);
  try {
    await pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    const zip = await promisify<string, yauzl.Options, yauzl.ZipFile>(yauzl.open)(path, { lazyEntries: true, autoClose: false });
    const openReadStream = promisify(zip.openReadStream.bind(zip)) as (e: yauzl.Entry) => Promise<Readable>;
    try {
      for (;;) {
        const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
          zip.once('entry', resolve);
          zip.once('end', () => resolve(undefined));
          zip.once('error', reject);
          zip.readEntry();
        });
        zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
        if (!entry) break;
        const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
        const kind = unixMode & S_IFMT;
        const isDir = entry.fileName.endsWith('/') || kind === S_IFDIR;
        const type: EntryType = isDir ? 'directory' : kind === S_IFLNK ? 'symlink' : 'file';
        let body: Readable = isDir ? Readable.from([]) : await openReadStream(entry);
        let linkpath: string | undefined;
        if (type === 'symlink') {
          const chunks: Buffer[] = [];
          for await (const c of body) chunks.push(c as Buffer);
          linkpath = Buffer.concat(chunks).toString('utf8');
          body = Readable.from([]);
        }
        yield {
          entry: {
            path: entry.fileName.replace(/\/+$/, ''),
            type,
            size: type === 'file' ? entry.uncompressedSize : 0,
            mode: unixMode & 0o7777,
            mtime: entry.getLastModDate(),
            linkpath,
          },
          body,
        };
        if (!body.readableEnded) body.destroy();
      }
    } finally {
      zip.close();
    }
  } finally {
    await rm(path, { force: true });
  }
}
