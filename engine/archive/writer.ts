import { rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { LsError } from '../errors.js';
import { openArchiveOutput, type ArchiveOutputOptions } from './archive-output.js';
import { BodyWriter } from './body.js';
import { MemoryBudget, readSpooled, spoolBody, SPOOL_READ_SIZE, type SpooledBody } from './spool.js';
import { createTarContainer, createZipContainer } from './containers.js';
import { archiveError, entryRecord, normaliseEntry, type NormalisedEntry } from './entry.js';
import { Turns, type TurnKind } from './turns.js';
import { entryRules } from './entry-rules.js';
import { METADATA_ENTRY, SIGNATURE_ENTRY } from './reserved-entries.js';
import { MAX_METADATA_BYTES } from './limits.js';
import type { AddOptions, ArchiveFormat, ArchiveResult, ArchiveWriter, EntryRecord, EntrySpec, OpenEntry } from './types.js';

export { METADATA_ENTRY, SIGNATURE_ENTRY } from './reserved-entries.js';

export interface ArchiveWriterOptions extends ArchiveOutputOptions {
  /** Where bodies of unknown size are spooled (0600 files, removed after use). */
  spoolDir: string;
}

/**
 * Why bodies of unknown size are spooled: a tar header carries the body's size, and we want
 * the output to stay a standard tar that `tar xzf` reads (no custom framing, no seeking back
 * into an upload stream). So a command's stdout goes to a private temp file first, then is
 * appended like any file. Bodies of known size stream straight through. See docs/archive-format.md.
 */
export function createArchiveWriter(format: ArchiveFormat, sink: Writable, options: ArchiveWriterOptions): ArchiveWriter {
  const output = openArchiveOutput(format, sink, options);
  // The compressor's input is done with each block when it calls back: blocks can be reused.
  const container = format === 'zip' ? createZipContainer(output.input, options.level) : createTarContainer(output.input, { recycleBlocks: true });
  const entries: EntryRecord[] = [];
  const spoolFiles = new Set<string>();
  /** What feeds entries now (a caller's stream, a spool file being read back): abort() stops them. */
  const sources = new Set<{ destroy(): void }>();
  /** What bodies held in memory until their turn take together. */
  const heldInMemory = new MemoryBudget();
  /** The one buffer spool files are read back into (one spooled entry holds the archive at a time); zip keeps chunks, so not for zip. */
  let spoolReadBuffer: Buffer | undefined;
  /** Entries go into the container one at a time (live streams before spooled bodies). */
  const turns = new Turns();
  /** The rules restore takes a backup by, checked as each entry takes its place (archive order). */
  const rules = entryRules();
  /** Turns held by open entries, released by abort() if their holder never ends them. */
  const held = new Set<() => void>();
  let state: 'open' | 'finishing' | 'closed' = 'open';
  let fatal: Error | undefined;
  /**
   * The add() calls not yet settled: finish() waits for them, then for the turns to be idle (every
   * entry started, by add() or open(), waits for or holds a turn until it ends), so metadata.json
   * really is last.
   */
  const pending = new Set<Promise<unknown>>();

  output.done.catch((err: Error) => {
    fatal ??= err;
  });

  const ensureOpen = () => {
    if (fatal) throw fatal;
    if (state !== 'open') throw archiveError(format, 'the archive is already finished or aborted');
  };

  const track = <T>(work: Promise<T>): Promise<T> => {
    pending.add(work);
    const forget = () => pending.delete(work);
    work.then(forget, forget);
    return work;
  };

  /** A failure of the container, compressor or sink leaves the archive unusable: fail everything after. */
  const broken = (err: unknown): never => {
    if (err instanceof LsError && err.code === 'EARCHIVE' && !fatal) throw err; // one entry refused (zip and hardlinks)
    fatal ??= err as Error;
    throw fatal;
  };
  /** Runs one container call, turning a failure into `broken`. */
  const guarded = (waiting: () => Promise<void> | undefined): Promise<void> | undefined => {
    try {
      return waiting()?.catch(broken);
    } catch (err) {
      return broken(err);
    }
  };
  // Once broken or aborted, a body's writer (a zero-fill of gigabytes) learns it at the next chunk.
  const writeBody = (chunk: Buffer) => (fatal ? Promise.reject(fatal) : guarded(() => container.writeBody(chunk)));

  function open(spec: EntrySpec & { size: number }): OpenEntry | Promise<OpenEntry> {
    try {
      ensureOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return startEntry(spec);
  }

  /**
   * Takes the container's turn and writes the entry's header; the turn is held until end().
   * `kind`: a live stream from a host goes before a spooled body (see Turns). The entry comes
   * back at once when the archive is free and took the header without waiting.
   */
  function startEntry(spec: EntrySpec & { size: number }, kind: TurnKind = 'live'): OpenEntry | Promise<OpenEntry> {
    let entry: NormalisedEntry & { size: number };
    try {
      entry = normaliseEntry(spec) as NormalisedEntry & { size: number };
    } catch (err) {
      return Promise.reject(err);
    }
    const turn = turns.take(kind);
    return turn instanceof Promise ? turn.then((release) => beginEntry(entry, release)) : beginEntry(entry, turn);
  }

  /** The entry has the turn: its header goes in (unless the archive broke meanwhile). */
  function beginEntry(entry: NormalisedEntry & { size: number }, release: () => void): OpenEntry | Promise<OpenEntry> {
    const done = () => {
      if (!held.delete(done)) return; // already handed on (end(), or abort() released it)
      release();
    };
    held.add(done);
    let waiting;
    try {
      if (fatal) throw fatal;
      const refused = rules.check(entry);
      if (refused) throw archiveError(entry.path, `${refused}: left out, as restore would refuse the backup with it`);
      waiting = guarded(() => container.beginEntry(entry));
    } catch (err) {
      done();
      return Promise.reject(err);
    }
    if (!waiting) return openEntry(entry, done);
    return waiting.then(
      () => openEntry(entry, done),
      (err: unknown) => {
        done();
        throw err;
      },
    );
  }

  /** The entry whose turn it is; `done` hands the turn on. */
  function openEntry(entry: NormalisedEntry & { size: number }, done: () => void): OpenEntry {
    const body = new BodyWriter(entry.size, writeBody);
    let ended = false;
    /** The body is complete (`sha256` for a file): pad it, record it. */
    const close = (sha256: string | undefined): EntryRecord | Promise<EntryRecord> => {
      const waiting = guarded(() => container.endEntry());
      return waiting ? waiting.then(() => record(sha256)) : record(sha256);
    };
    const record = (sha256: string | undefined): EntryRecord => {
      const made = entryRecord(entry, entry.size, sha256);
      if (body.problem) {
        // The bytes are in the archive (zero-padded or cut) and recorded, so the archive still
        // verifies; `error` tells restore not to trust this entry.
        entries.push({ ...made, error: body.problem });
        throw archiveError(entry.path, body.problem);
      }
      entries.push(made);
      return made;
    };
    return {
      write: (chunk) => body.write(chunk),
      get problem() {
        return body.problem;
      },
      end(failure) {
        if (ended) return Promise.reject(archiveError(entry.path, 'the entry was already ended'));
        ended = true;
        let result: EntryRecord | Promise<EntryRecord>;
        try {
          const sha256 = entry.type === 'file' ? body.finish(failure) : undefined;
          result = sha256 instanceof Promise ? sha256.then(close) : close(sha256);
        } catch (err) {
          done();
          return Promise.reject(err);
        }
        if (!(result instanceof Promise)) {
          done();
          return result;
        }
        return result.finally(done);
      },
    };
  }

  /** Copies `source` into a new entry of known size. */
  async function copyIn(spec: EntrySpec & { size: number }, source?: AsyncIterable<Buffer | string> | Iterable<Buffer>, kind?: TurnKind): Promise<EntryRecord> {
    const entry = await startEntry(spec, kind);
    let failure: string | undefined;
    if (source) {
      try {
        for await (const chunk of source) {
          const waiting = entry.write(chunk as Buffer);
          if (waiting) await waiting;
          if (entry.problem) break; // longer than declared: the rest is not wanted (ends the source)
        }
      } catch (err) {
        failure = (err as Error).message; // if the archive broke instead, end() says so
      }
    }
    return entry.end(failure);
  }

  function add(spec: EntrySpec, body?: Readable, addOptions?: AddOptions): Promise<EntryRecord> {
    return track(addEntry(spec, body, addOptions));
  }

  async function addEntry(spec: EntrySpec, body?: Readable, addOptions?: AddOptions): Promise<EntryRecord> {
    ensureOpen();
    const entry = normaliseEntry(spec);
    if (entry.type !== 'file' && body) body.resume(); // links and directories carry no body
    if (entry.size !== undefined) {
      if (body) sources.add(body);
      try {
        return await copyIn({ ...spec, size: entry.size }, entry.type === 'file' ? body : undefined);
      } finally {
        if (body) sources.delete(body);
      }
    }
    // Unknown size: spool outside the turn so hosts spool in parallel, then append in turn.
    if (!body) return copyIn({ ...spec, size: 0 });
    sources.add(body);
    let spooled: SpooledBody;
    try {
      spooled = await spoolBody(body, options.spoolDir, heldInMemory);
    } catch (err) {
      throw archiveError(entry.path, `reading the body failed: ${(err as Error).message}`, err);
    } finally {
      sources.delete(body);
    }
    addOptions?.onSpooled?.(spooled.size);
    const sized = { ...spec, size: spooled.size };
    if (spooled.kind === 'memory') return copyIn(sized, [spooled.bytes], 'spooled').finally(() => heldInMemory.giveBack(sized.size));
    spoolFiles.add(spooled.path);
    const copy = readSpooled(spooled.path, format === 'zip' ? undefined : (spoolReadBuffer ??= Buffer.allocUnsafe(SPOOL_READ_SIZE)));
    sources.add(copy);
    try {
      return await copyIn(sized, copy, 'spooled');
    } finally {
      sources.delete(copy);
      spoolFiles.delete(spooled.path);
      await rm(spooled.path, { force: true });
    }
  }

  async function finish(buildMetadata: (entries: EntryRecord[]) => unknown, sign?: (metadataJson: Buffer) => Buffer): Promise<ArchiveResult> {
    ensureOpen();
    state = 'finishing';
    await Promise.allSettled([...pending]);
    await turns.idle();
    if (fatal) throw fatal;
    const listed = [...entries];
    const json = metadataJson(buildMetadata(listed), listed.length);
    // Before metadata.json, so metadata.json stays the last entry; it cannot list its own signature.
    const signature = sign?.(json);
    if (signature) await writeSmallEntry(SIGNATURE_ENTRY, signature);
    await writeSmallEntry(METADATA_ENTRY, json);
    container.end();
    const stored = await output.done;
    state = 'closed';
    return { ...stored, entries: listed, ...(signature ? { signature } : {}) };
  }

  async function writeSmallEntry(path: string, body: Buffer): Promise<void> {
    const entry = await startEntry({ path, size: body.length, mode: 0o644 });
    await entry.write(body);
    await entry.end();
  }

  async function abort(reason?: Error): Promise<void> {
    if (state === 'closed') return;
    state = 'closed';
    const why = reason ?? archiveError(format, 'aborted');
    fatal ??= why;
    for (const source of sources) source.destroy();
    output.destroy(why);
    // An open entry whose holder never ends it (a host still streaming) must not keep the rest waiting.
    for (const release of [...held]) release();
    await output.done.catch(() => {});
    await turns.idle();
    await Promise.allSettled([...pending]);
    await Promise.all([...spoolFiles].map((path) => rm(path, { force: true })));
  }

  return { format, copiesBodies: format !== 'zip', add, open, finish, abort };
}

/**
 * metadata.json's text, byte for byte the same in the archive and in the plain sidecar (a
 * signature covers both). Compact, one line: an incremental lists every unchanged file, and
 * indentation was a sixth of the sidecar's bytes (BENCHMARKS.md, the `incremental` group);
 * `lsbackup show --json` or `jq .` print it indented.
 */
export function metadataText(metadata: unknown): string {
  return JSON.stringify(metadata) + '\n';
}

/**
 * metadata.json as written, or why it cannot be: past MAX_METADATA_BYTES restore and verify
 * would refuse it, so the backup fails here, before anything is published.
 */
function metadataJson(metadata: unknown, entries: number): Buffer {
  const tooLarge = (size: string) =>
    archiveError(
      METADATA_ENTRY,
      `with ${entries} entries it would be ${size}, more than the ${MAX_METADATA_BYTES / 1024 / 1024} MiB restore reads; back up fewer files per run (--only, or split the collect paths over recipes)`,
    );
  let text: string;
  try {
    text = metadataText(metadata);
  } catch (e) {
    if (e instanceof RangeError) throw tooLarge('larger than a string can hold');
    throw e;
  }
  const json = Buffer.from(text);
  if (json.length > MAX_METADATA_BYTES) throw tooLarge(`${json.length} bytes`);
  return json;
}
