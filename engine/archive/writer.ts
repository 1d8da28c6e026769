import { rm } from 'node:fs/promises';
import { Readable, type Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LsError } from '../errors.js';
import { exactBytes, newSha256, type BodyReport } from './body.js';
import { readSpooled, spoolBody } from './spool.js';
import { createTarContainer, createZipContainer, type Container } from './containers.js';
import { archiveError, entryRecord, normaliseEntry, type NormalisedEntry } from './entry.js';
import { createMeter } from './meter.js';
import { createParallelGzip } from './parallel-gzip.js';
import type { AddOptions, ArchiveFormat, ArchiveResult, ArchiveWriter, EntryRecord, EntrySpec } from './types.js';
import { createZstdCompressor } from './zstd.js';
import { Turns } from './turns.js';

export const METADATA_ENTRY = 'metadata.json';

export interface ArchiveWriterOptions {
  /** Where bodies of unknown size are spooled (0600 files, removed after use). */
  spoolDir: string;
  /** Compression level (gzip 0-9, zstd 1-19, zip deflate 0-9). */
  level?: number;
  /** The zstd binary (overridable, e.g. for tests). */
  zstdCommand?: string;
  /** Input bytes per gzip member. */
  gzipBlockSize?: number;
}

function compressorsFor(format: ArchiveFormat, options: ArchiveWriterOptions): Transform[] {
  switch (format) {
    case 'tar.gz':
      return [createParallelGzip({ level: options.level, blockSize: options.gzipBlockSize })];
    case 'tar.zst':
      return [createZstdCompressor(options.level ?? 3, options.zstdCommand) as Transform];
    case 'zip':
      return [];
  }
}

/**
 * Why bodies of unknown size are spooled: a tar header carries the body's size, and we want
 * the output to stay a standard tar that `tar xzf` reads (no custom framing, no seeking back
 * into an upload stream). So a command's stdout goes to a private temp file first, then is
 * appended like any file. Bodies of known size stream straight through. See docs/archive-format.md.
 */
export function createArchiveWriter(format: ArchiveFormat, sink: Writable, options: ArchiveWriterOptions): ArchiveWriter {
  const container: Container = format === 'zip' ? createZipContainer(options.level) : createTarContainer();
  const meter = createMeter();
  const flushed = pipeline([container.output, ...compressorsFor(format, options), meter, sink]);
  const entries: EntryRecord[] = [];
  const spoolFiles = new Set<string>();
  const sources = new Set<Readable>();
  const turns = new Turns();
  let state: 'open' | 'finishing' | 'closed' = 'open';
  let fatal: Error | undefined;
  /** Every add() not yet settled: finish() waits for them so metadata.json really is last. */
  const pendingAdds = new Set<Promise<unknown>>();

  flushed.catch((err: Error) => {
    fatal ??= err;
  });

  const ensureOpen = () => {
    if (fatal) throw fatal;
    if (state !== 'open') throw archiveError(format, 'the archive is already finished or aborted');
  };

  async function append(entry: NormalisedEntry & { size: number }, source?: Readable): Promise<EntryRecord> {
    if (fatal) throw fatal;
    const hasBody = entry.type === 'file';
    const hash = newSha256();
    const report: BodyReport = {};
    try {
      await container.writeEntry(entry, hasBody ? exactBytes(source ?? Readable.from([]), entry.size, hash, report) : undefined);
    } catch (err) {
      // A failure of the container or the sink leaves the archive unusable: fail everything after.
      if (!(err instanceof LsError)) fatal ??= err as Error;
      throw err;
    }
    const record = entryRecord(entry, entry.size, hasBody ? hash.digest('hex') : undefined);
    if (report.problem) {
      // The bytes are in the archive (zero-padded or cut) and recorded, so the archive still
      // verifies; `error` tells restore not to trust this entry.
      entries.push({ ...record, error: report.problem });
      throw archiveError(entry.path, report.problem);
    }
    entries.push(record);
    return record;
  }

  function add(spec: EntrySpec, body?: Readable, addOptions?: AddOptions): Promise<EntryRecord> {
    const pending = addEntry(spec, body, addOptions);
    pendingAdds.add(pending);
    const forget = () => pendingAdds.delete(pending);
    pending.then(forget, forget);
    return pending;
  }

  async function addEntry(spec: EntrySpec, body?: Readable, addOptions?: AddOptions): Promise<EntryRecord> {
    ensureOpen();
    const entry = normaliseEntry(spec);
    if (entry.type !== 'file' && body) body.resume(); // links and directories carry no body
    if (entry.size !== undefined) {
      if (body) sources.add(body);
      try {
        return await turns.take('live', () => append(entry as NormalisedEntry & { size: number }, body));
      } finally {
        if (body) sources.delete(body);
      }
    }
    // Unknown size: spool outside the queue so hosts spool in parallel, then append in turn.
    const input = body ?? Readable.from([]);
    sources.add(input);
    let spooled;
    try {
      spooled = await spoolBody(input, options.spoolDir);
    } catch (err) {
      throw archiveError(entry.path, `reading the body failed: ${(err as Error).message}`, err);
    } finally {
      sources.delete(input);
    }
    spoolFiles.add(spooled.path);
    addOptions?.onSpooled?.(spooled.size);
    try {
      return await turns.take('spooled', () => append({ ...entry, size: spooled.size }, readSpooled(spooled)));
    } finally {
      spoolFiles.delete(spooled.path);
      await rm(spooled.path, { force: true });
    }
  }

  async function finish(buildMetadata: (entries: EntryRecord[]) => unknown): Promise<ArchiveResult> {
    ensureOpen();
    state = 'finishing';
    await Promise.allSettled([...pendingAdds]);
    if (fatal) throw fatal;
    const listed = [...entries];
    const json = Buffer.from(JSON.stringify(buildMetadata(listed), null, 2) + '\n');
    await turns.take('live', () =>
      append(normaliseEntry({ path: METADATA_ENTRY, size: json.length, mode: 0o644 }) as NormalisedEntry & { size: number }, Readable.from([json])),
    );
    container.end();
    await flushed;
    state = 'closed';
    return { bytes: meter.bytes(), sha256: meter.sha256(), entries: listed };
  }

  async function abort(reason?: Error): Promise<void> {
    if (state === 'closed') return;
    state = 'closed';
    const why = reason ?? archiveError(format, 'aborted');
    fatal ??= why;
    for (const source of sources) source.destroy();
    container.output.destroy(why);
    sink.destroy(why);
    await flushed.catch(() => {});
    await turns.idle();
    await Promise.all([...spoolFiles].map((path) => rm(path, { force: true })));
  }

  return { format, add, finish, abort };
}
