import { PassThrough, Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import yazl from 'yazl';
import { BlockWriter, DEFAULT_BLOCK_SIZE } from './block-writer.js';
import { archiveError, type NormalisedEntry } from './entry.js';
import { TAR_END, tarHeader, tarPadding } from './tar-blocks.js';

/**
 * The container layer (tar or zip) under the writer: it lays out one entry at a time. The
 * writer guarantees entries arrive one after another and every body has exactly `size` bytes.
 */
export interface Container {
  /** Uncompressed container bytes (tar), or the finished zip bytes. */
  readonly output: Readable;
  writeEntry(entry: NormalisedEntry & { size: number }, body?: AsyncIterable<Buffer>): Promise<void>;
  /** Write the trailer (tar end blocks, zip central directory) and end `output`. */
  end(): void;
}

export function createTarContainer(): Container {
  // The buffer in front of the compressor holds about one block; BlockWriter gathers the next.
  const output = new PassThrough({ highWaterMark: DEFAULT_BLOCK_SIZE });
  const blocks = new BlockWriter(output);
  return {
    output,
    async writeEntry(entry, body) {
      let waiting = blocks.write(tarHeader(entry));
      if (waiting) await waiting;
      if (body) {
        for await (const chunk of body) {
          waiting = blocks.write(chunk);
          if (waiting) await waiting;
        }
      }
      waiting = blocks.write(tarPadding(entry.size));
      if (waiting) await waiting;
    },
    end() {
      blocks.end(TAR_END);
    },
  };
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/**
 * zip via yazl. Sizes are always known here (spooled if need be), so yazl decides zip64 per
 * entry itself. Zip keeps mode and mtime (2-second DOS time plus the extended timestamp) but
 * not uid/gid, and it has no hardlinks: those are refused so the user picks a tar format.
 */
export function createZipContainer(level = 6): Container {
  const zip = new yazl.ZipFile();
  return {
    output: zip.outputStream as unknown as Readable,
    async writeEntry(entry, body) {
      const common = { mtime: entry.mtime };
      switch (entry.type) {
        case 'directory':
          zip.addEmptyDirectory(entry.path, { ...common, mode: S_IFDIR | entry.mode });
          return;
        case 'symlink':
          // Info-ZIP stores a symlink as an entry whose body is the target, with S_IFLNK in the mode.
          zip.addBuffer(Buffer.from(entry.linkpath!), entry.path, { ...common, mode: S_IFLNK | entry.mode, compress: false });
          return;
        case 'hardlink':
          throw archiveError(entry.path, 'zip archives cannot hold hardlinks; use tar.gz or tar.zst');
        case 'file': {
          const stream = Readable.from(body ?? []);
          zip.addReadStream(stream, entry.path, {
            ...common,
            mode: S_IFREG | entry.mode,
            size: entry.size,
            compressionLevel: level,
          });
          await finished(stream);
        }
      }
    },
    end() {
      zip.end();
    },
  };
}
