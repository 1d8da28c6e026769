import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type yauzl from 'yauzl';
import { archiveError } from './entry.js';
import { TAR_TYPES } from './tar/types.js';
import { TarStreamParser } from './tar/stream-parser.js';
import type { ArchiveFormat, EntrySpec, EntryType } from './types.js';
import { createZstdDecompressor } from './zstd.js';
import { createGunzipDecompressor } from './decompressor.js';
import { pipeHoldingFailure } from './held-failure.js';

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
  /** Told of each entry as it is read (the live progress of staging and verify). */
  onEntry?: () => void;
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
  const items = format === 'zip' ? readZip(stream, options.spoolDir ?? tmpdir()) : readTarArchive(stream, format, options);
  return options.onEntry ? counting(items, options.onEntry) : items;
}

function readTarArchive(stream: Readable, format: 'tar.gz' | 'tar.zst', options: ArchiveReaderOptions): AsyncIterable<ArchiveItem> {
  const decompressor = format === 'tar.gz' ? createGunzipDecompressor() : createZstdDecompressor(options.zstdCommand);
  // A source that fails (a broken download, a decryption refusing a chunk) ends the input: what
  // arrived before is still decompressed and read, then the source's reason is the failure, in
  // place of the decompressor's own about its cut input (held-failure.ts).
  return readTar(pipeHoldingFailure(stream, decompressor.stream), decompressor.exited, options.onUnsupportedEntry);
}

async function* counting(items: AsyncIterable<ArchiveItem>, onEntry: () => void): AsyncGenerator<ArchiveItem> {
  for await (const item of items) {
    onEntry();
    yield item;
  }
}

/**
 * Pull-based over the archive's own push parser (tar/stream-parser.ts, the one collect uses,
 * so names keep their bytes: name-bytes.ts). The parser waits while the consumer has not taken
 * the member or not read its body, so memory stays bounded.
 */
async function* readTar(
  tarBytes: Readable,
  /** How the decompressor ended, read once its output ended (before the tar's own end is judged); a source failure comes through its output first. */
  decompressorExited: Promise<void>,
  onUnsupported?: (path: string, tarType: string) => void,
): AsyncGenerator<ArchiveItem> {
  const items: ArchiveItem[] = [];
  let ended = false;
  let failure: Error | undefined;
  /** The body being filled; undefined while a member is skipped. */
  let body: Readable | undefined;
  let bodyWanted: (() => void) | undefined;
  /** Released when the consumer takes the member the parser is waiting on. */
  let taken: (() => void) | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const parser = new TarStreamParser({
    member: (m) => {
      const type = TAR_TYPES[m.type];
      body = undefined;
      if (!type) {
        onUnsupported?.(m.path, m.type); // its body, if any, is dropped
        return undefined;
      }
      const current = new Readable({
        read() {
          const resume = bodyWanted;
          bodyWanted = undefined;
          resume?.();
        },
      });
      body = current;
      items.push({
        entry: {
          path: m.path.replace(/\/+$/, ''),
          type,
          size: type === 'file' ? m.size : 0,
          mode: (m.mode ?? 0) & 0o7777,
          mtime: m.mtime ?? new Date(0),
          uid: m.uid,
          gid: m.gid,
          uname: m.uname,
          gname: m.gname,
          linkpath: m.linkpath || undefined,
        },
        body: current,
      });
      notify();
      return new Promise<void>((resolve) => (taken = resolve));
    },
    body: (chunk) => {
      const current = body;
      // Input chunks are fresh buffers from the decompressor: a view of one may be handed on.
      if (!current || current.destroyed || current.push(chunk)) return undefined;
      return new Promise<void>((resolve) => {
        // Resumed by read(), or the consumer skipped the body: either way, once (a listener left
        // on the body per wait would pile up over a large entry).
        const resume = () => {
          current.off('close', resume);
          resolve();
        };
        bodyWanted = resume;
        current.once('close', resume);
      });
    },
    memberEnd: () => {
      if (body && !body.destroyed) body.push(null);
      body = undefined;
    },
  });
  const feeding = (async () => {
    for await (const chunk of tarBytes) {
      const waiting = parser.write(chunk as Buffer);
      if (waiting) await waiting;
    }
    await decompressorExited;
    parser.end();
  })().then(
    () => {
      ended = true;
      notify();
    },
    (e: Error) => {
      // A damaged archive must reach whoever is waiting: the iterator or the body being read.
      failure ??= archiveError('tar', e.message, e);
      body?.destroy(failure);
      ended = true;
      notify();
    },
  );

  // A function, not an inline check: the feeding callbacks set `failure`, which TypeScript's
  // narrowing inside this loop cannot see.
  const throwIfFailed = () => {
    if (failure) throw failure;
  };
  try {
    for (;;) {
      throwIfFailed();
      const item = items.shift();
      if (item) {
        const release = taken;
        taken = undefined;
        release?.();
        yield item;
        if (!item.body.readableEnded) item.body.destroy(); // the consumer skipped the body: drop the rest
        continue;
      }
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await feeding;
    throwIfFailed();
  } finally {
    body?.destroy();
    tarBytes.destroy();
  }
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
    // decodeStrings: false — yauzl would turn a backslash in a name (an ordinary byte of a POSIX
    // file name) into '/'; lsbackup writes UTF-8 names and checks every path itself (restore/stage.ts).
    const { open } = (await import('yauzl')).default; // loaded only when a zip is read
    const zip = await promisify<string, yauzl.Options, yauzl.ZipFile>(open)(path, { lazyEntries: true, autoClose: false, decodeStrings: false });
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
        const fileName = (entry.fileName as unknown as Buffer).toString('utf8');
        const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
        const kind = unixMode & S_IFMT;
        const isDir = fileName.endsWith('/') || kind === S_IFDIR;
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
            path: fileName.replace(/\/+$/, ''),
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
