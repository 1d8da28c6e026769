import { PassThrough, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createRequire } from 'node:module';
import { BlockWriter, DEFAULT_BLOCK_SIZE } from './block-writer.js';
import { waitForDrain } from './body.js';
import { archiveError, type NormalisedEntry } from './entry.js';
import { TAR_END, tarHeader, tarPadding } from './tar/blocks.js';
import { hasEscapedBytes } from './name-bytes.js';

/**
 * The container layer (tar or zip) under the writer: it lays out one entry at a time into
 * `output`. The writer guarantees entries arrive one after another and every body has
 * exactly `size` bytes. A returned promise means: wait for it before the next call.
 */
export interface Container {
  /** The entry's header; for a file, `writeBody` calls follow, then `endEntry`. */
  beginEntry(entry: NormalisedEntry & { size: number }): Promise<void> | undefined;
  writeBody(chunk: Buffer): Promise<void> | undefined;
  endEntry(): Promise<void> | undefined;
  /** Write the trailer (tar end blocks, zip central directory) and end `output`. */
  end(): void;
}

/**
 * tar into `output`, gathered into 1 MiB blocks. `recycleBlocks` when `output` is done with a
 * chunk once it calls back (see BlockWriter), e.g. the compressor's input.
 */
export function createTarContainer(output: Writable, options: { recycleBlocks?: boolean } = {}): Container {
  const blocks = new BlockWriter(output, DEFAULT_BLOCK_SIZE, options.recycleBlocks);
  let padding = 0;
  return {
    beginEntry(entry) {
      padding = entry.size;
      return blocks.write(tarHeader(entry));
    },
    writeBody(chunk) {
      return blocks.write(chunk);
    },
    endEntry() {
      return blocks.write(tarPadding(padding));
    },
    end() {
      blocks.end(TAR_END);
    },
  };
}

/** Lays out one whole entry whose body is read from `body` (trusted to have `size` bytes). */
export async function appendEntry(container: Container, entry: NormalisedEntry & { size: number }, body?: AsyncIterable<Buffer>): Promise<void> {
  await container.beginEntry(entry);
  if (body) {
    for await (const chunk of body) {
      const waiting = container.writeBody(chunk);
      if (waiting) await waiting;
    }
  }
  await container.endEntry();
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The extended timestamp yazl writes holds 0 to 2^31-1 seconds since 1970. */
function zipHoldsTime(mtime: Date): boolean {
  const seconds = Math.floor(mtime.getTime() / 1000);
  return seconds >= 0 && seconds <= 0x7fffffff;
}

/**
 * zip via yazl. Sizes are always known here (spooled if need be), so yazl decides zip64 per
 * entry itself. Zip keeps mode and mtime (2-second DOS time plus the extended timestamp) but
 * not uid/gid, and it has no hardlinks: those are refused so the user picks a tar format.
 */
export function createZipContainer(output: Writable, level = 6): Container {
  // Required here, not imported at the top: only a zip archive needs yazl (start-up cost of a tar backup).
  const yazl = createRequire(import.meta.url)('yazl') as typeof import('yazl');
  const zip = new yazl.ZipFile();
  (zip.outputStream as unknown as Readable).on('error', (err) => output.destroy(err)).pipe(output);
  let body: PassThrough | undefined;
  return {
    beginEntry(entry) {
      // yazl writes names as UTF-8 text: bytes that are not UTF-8 would become U+FFFD and
      // different names the same one.
      if (hasEscapedBytes(entry.path) || (entry.linkpath !== undefined && hasEscapedBytes(entry.linkpath))) {
        throw archiveError(entry.path, 'zip archives hold UTF-8 names only and this name is not UTF-8; use tar.gz or tar.zst');
      }
      // yazl turns '\' into '/' (zip's Windows heritage): `back\slash` would come back as a directory.
      if (entry.path.includes('\\')) {
        throw archiveError(entry.path, "zip archives cannot hold a '\\' in a name (zip reads it as a directory separator); use tar.gz or tar.zst");
      }
      if (entry.sparse) throw archiveError(entry.path, 'zip archives have no sparse entries');
      // yazl writes the time as unsigned 32-bit seconds: one before 1970 threw out of its stream
      // (the process died); one after 2038 was cut to 2038-01-19 and restored so.
      if (!zipHoldsTime(entry.mtime)) {
        throw archiveError(
          entry.path,
          `zip archives hold times from 1970 to 2038-01-19 only and this entry's is ${entry.mtime.toISOString()}; use tar.gz or tar.zst`,
        );
      }
      const common = { mtime: entry.mtime };
      switch (entry.type) {
        case 'directory':
          zip.addEmptyDirectory(entry.path, { ...common, mode: S_IFDIR | entry.mode });
          break;
        case 'symlink':
          // Info-ZIP stores a symlink as an entry whose body is the target, with S_IFLNK in the mode.
          zip.addBuffer(Buffer.from(entry.linkpath!), entry.path, { ...common, mode: S_IFLNK | entry.mode, compress: false });
          break;
        case 'hardlink':
          throw archiveError(entry.path, 'zip archives cannot hold hardlinks; use tar.gz or tar.zst');
        case 'file':
          body = new PassThrough();
          zip.addReadStream(body, entry.path, { ...common, mode: S_IFREG | entry.mode, size: entry.size, compressionLevel: level });
      }
      return undefined;
    },
    writeBody(chunk) {
      return body!.write(chunk) ? undefined : waitForDrain(body!);
    },
    endEntry() {
      if (!body) return;
      const done = body;
      body = undefined;
      done.end();
      return finished(done); // yazl has read all of it
    },
    end() {
      zip.end();
    },
  };
}
