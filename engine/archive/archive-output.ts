import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { followFile } from './file-follower.js';
import { createMeter } from './meter.js';
import { createParallelGzip } from './parallel-gzip.js';
import type { ArchiveFormat } from './types.js';
import { startZstdCompressor } from './zstd.js';

/** The archive's sink is a local file with this descriptor (open read-write); `label` names it in errors. */
export interface ArchiveFile {
  fd: number;
  label: string;
}

export interface ArchiveOutputOptions {
  /** Compression level (gzip 0-9, zstd 1-19). */
  level?: number;
  /** The zstd binary. */
  zstdCommand?: string;
  /** Input bytes per gzip member. */
  gzipBlockSize?: number;
  /** Set when `sink` writes this file: a compressor that can write it itself does. */
  file?: ArchiveFile;
}

/** What was stored: the bytes as they are in the sink. */
export interface StoredBytes {
  bytes: number;
  /** hex sha256 of the stored bytes. */
  sha256: string;
}

/**
 * Where the container's bytes go: through the compressor, counted and hashed as stored, into
 * the sink. Which stages that takes depends on the format and the sink (see `openArchiveOutput`).
 */
export interface ArchiveOutput {
  /** The container writes here, and ends it after the last entry. */
  readonly input: Writable;
  /** Resolves once every byte is stored; rejects when a stage (compressor, sink) failed. */
  readonly done: Promise<StoredBytes>;
  /** Tear every stage down (abort). */
  destroy(reason: Error): void;
}

/**
 * tar.zst into a local file (one local target, not encrypted): zstd writes the file itself and
 * the file is hashed as it grows, so the compressed bytes skip a pipe round trip through this
 * process; the sink stream is only ended (which closes the file). Everything else: compressor
 * -> meter -> sink, in this process.
 */
export function openArchiveOutput(format: ArchiveFormat, sink: Writable, options: ArchiveOutputOptions): ArchiveOutput {
  if (format === 'tar.zst' && options.file) return zstdIntoFile(options.file, sink, options);
  const meter = createMeter();
  let input: Writable;
  let compressed: Promise<unknown>;
  if (format === 'tar.zst') {
    const zstd = startZstdCompressor({ level: options.level, command: options.zstdCommand, label: 'zstd' });
    input = zstd.input;
    compressed = Promise.all([pipeline(zstd.output!, meter, sink), zstd.exited]);
  } else if (format === 'tar.gz') {
    const gzip = createParallelGzip({ level: options.level, blockSize: options.gzipBlockSize });
    input = gzip;
    compressed = pipeline(gzip, meter, sink);
  } else {
    input = meter; // zip compresses per entry itself
    compressed = pipeline(meter, sink);
  }
  // A sink that fails (disk full, upload refused) fails the container's next write with its reason.
  compressed.catch((err: Error) => input.destroy(err));
  return {
    input,
    done: compressed.then(() => ({ bytes: meter.bytes(), sha256: meter.sha256() })),
    destroy(reason) {
      input.destroy(reason);
      sink.destroy(reason);
    },
  };
}

function zstdIntoFile(file: ArchiveFile, sink: Writable, options: ArchiveOutputOptions): ArchiveOutput {
  const zstd = startZstdCompressor({ level: options.level, command: options.zstdCommand, output: file.fd, label: file.label });
  const follower = followFile(file.fd);
  // Nothing is written to the sink, so nothing else listens to it: a failure to end it rejects `done`.
  sink.on('error', () => {});
  const done = (async () => {
    try {
      await zstd.exited;
    } catch (err) {
      follower.stop();
      throw err;
    }
    const stored = await follower.finish();
    await endStream(sink);
    return stored;
  })();
  done.catch(() => {}); // the writer awaits it; a failure must not be unhandled meanwhile
  return {
    input: zstd.input,
    done,
    destroy(reason) {
      zstd.input.destroy(reason);
      follower.stop();
      sink.destroy();
    },
  };
}

/** End a stream nothing was written to (for a file: closes it) and wait until it finished. */
function endStream(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}
