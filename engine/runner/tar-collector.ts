import { Writable } from 'node:stream';
import { DEFAULT_BLOCK_SIZE } from '../archive/block-writer.js';
import { TAR_TYPES } from '../archive/tar/types.js';
import { TarStreamParser, type TarMember } from '../archive/tar/stream-parser.js';
import { takesChunksDirectly } from '../executors/direct-chunks.js';
import type { ArchiveWriter, EntryRecord, EntrySpec, OpenEntry } from '../archive/types.js';
import { hostRelativePath } from './entry-paths.js';

/**
 * Re-packs a host's tar stream into archive entries under `prefix`. Each member's header opens
 * an entry and its body goes straight in, hashed on the way, with backpressure: while the
 * archive is busy (another host's entry, the compressor) `sink` does not call back, so SSH
 * stops reading and the host's tar waits. No stream or promise per chunk.
 */
export class TarCollector {
  /** Where the host's tar stream goes (the executor pipes stdout here and does not end it). */
  readonly sink: Writable;
  private readonly parser: TarStreamParser;
  private bytes = 0;
  private error: Error | undefined;
  /** The entry whose body is arriving; undefined while a member is skipped. */
  private current: { entry: OpenEntry; path: string } | undefined;
  /** The stream could not be parsed: the rest is drained and dropped so the host's tar can finish. */
  private unreadable = false;
  /** Entries written, by archive path: tar names files that changed while read only at the end. */
  private readonly records = new Map<string, EntryRecord>();
  /** Members of a kind the archive does not hold (FIFOs, devices), as '<kind> <host path>'. */
  readonly skipped: string[] = [];

  constructor(
    private readonly archive: ArchiveWriter,
    private readonly prefix: string,
    private readonly onEntry: (path: string, size: number) => void,
    /**
     * Archive paths this host's collect steps already wrote. Two collect paths may overlap (or a
     * glob match a path also listed): tar then sends the same file twice, and a backup must hold
     * each path once (restore refuses a duplicate entry). The first one stays.
     */
    private readonly collected: CollectedPaths = new Map(),
  ) {
    this.parser = new TarStreamParser({
      member: (member) => this.openMember(member),
      body: (chunk) => this.writeBody(chunk),
      memberEnd: () => this.endMember(),
    });
    this.sink = new Writable({
      // SSH delivers 32 KiB chunks: with the default 16 KiB every write would pause the channel.
      highWaterMark: DEFAULT_BLOCK_SIZE,
      write: (chunk: Buffer, _enc, callback) => {
        const waiting = this.consume(chunk);
        if (!waiting) return callback();
        waiting.then(() => callback(), callback);
      },
    });
    // Done with a chunk once consume() settles when the archive copies bodies (tar: into its
    // blocks); zip's entry streams keep them, so there the executor must not reuse its buffer.
    if (archive.copiesBodies) takesChunksDirectly(this.sink, (chunk) => this.consume(chunk));
  }

  /** One chunk of the host's stream; a promise means: wait for it before the next. */
  private consume(chunk: Buffer): Promise<void> | undefined {
    if (this.unreadable) return undefined;
    let waiting;
    try {
      waiting = this.parser.write(chunk);
    } catch (e) {
      return this.giveUp(e as Error);
    }
    return waiting?.catch((e: Error) => this.giveUp(e));
  }

  /** Call when the host's stream has ended (complete or cut short). */
  async finish(): Promise<{ bytes: number; error?: Error }> {
    // The executor does not end the sink, and chunks it accepted may still wait there while
    // the archive is busy: deliver them before looking at where the stream stopped.
    await endWritable(this.sink);
    if (!this.unreadable) {
      try {
        this.parser.end();
      } catch (e) {
        // The host's tar stopped mid-file: that entry is kept zero-filled and marked, the step fails.
        this.error ??= new Error(this.current ? `the stream from the host was cut short in ${this.current.path}` : (e as Error).message);
      }
    }
    await this.closeCurrent('the stream from the host ended in the middle of this file');
    return { bytes: this.bytes, error: this.error };
  }

  /**
   * Marks the entries of files that changed while tar read them (see tar-diagnostics). The
   * records are the archive writer's own, from which metadata.json is built when it finishes.
   */
  markChangedDuringRead(paths: string[]): void {
    for (const p of paths) {
      const record = this.records.get(p);
      if (record) record.changedDuringRead = true;
    }
  }

  /** The entries this stream wrote, by archive path (the writer's own records). */
  stored(): ReadonlyMap<string, EntryRecord> {
    return this.records;
  }

  private openMember(member: TarMember): Promise<void> | undefined {
    const type = TAR_TYPES[member.type];
    const rel = hostRelativePath(member.path);
    const unsafe = rel === '..' || rel.startsWith('../') || rel.endsWith('/..') || rel.includes('/../');
    if (!type || rel === '' || unsafe) {
      if (type && unsafe) this.error ??= new Error(`host sent an unsafe path '${member.path}'`);
      // A member with data of a type the archive cannot hold (e.g. GNU sparse) must not vanish silently.
      else if (!type && member.size > 0) this.error ??= new Error(`unsupported tar member type ${member.type} for '${member.path}'`);
      else if (!type && rel !== '') this.skipped.push(`${member.type} /${rel}`);
      return undefined; // its body, if any, is skipped
    }
    const path = `${this.prefix}/${rel}`;
    if (this.collected.has(path)) return undefined; // sent again: its body is skipped
    const linkedFile = type === 'hardlink' ? this.fileBehind(`${this.prefix}/${hostRelativePath(member.linkpath ?? '')}`) : undefined;
    this.collected.set(path, linkedFile);
    const spec: EntrySpec & { size: number } = {
      path,
      type,
      mode: member.mode,
      mtime: member.mtime,
      uid: member.uid,
      gid: member.gid,
      uname: member.uname,
      gname: member.gname,
      size: type === 'file' ? member.size : 0,
      ...(type === 'symlink' ? { linkpath: member.linkpath } : {}),
      ...(type === 'hardlink' ? { linkpath: linkedFile } : {}),
    };
    const opened = this.archive.open(spec);
    if (!(opened instanceof Promise)) {
      this.current = { entry: opened, path: member.path };
      return undefined;
    }
    return opened.then(
      (entry) => {
        this.current = { entry, path: member.path };
      },
      (e: Error) => {
        this.error ??= e; // the archive refused this entry: its body is skipped
      },
    );
  }

  /**
   * What a hardlink to `path` must point at: the file itself. A link's target may be a name an
   * earlier collect step stored as a hardlink (this step's tar met that name first, as the file,
   * and it was skipped as sent again); restore links only to stored files.
   */
  private fileBehind(path: string): string {
    return this.collected.get(path) ?? path;
  }

  private endMember(): Promise<void> | undefined {
    const current = this.current;
    if (!current) return undefined;
    this.current = undefined;
    const ended = current.entry.end();
    if (!(ended instanceof Promise)) return this.ended(ended);
    return ended.then(
      (record) => this.ended(record),
      (e: Error) => {
        this.error ??= e;
      },
    );
  }

  private ended(record: EntryRecord): undefined {
    this.records.set(record.path, record);
    this.bytes += record.size;
    this.onEntry(record.path, record.size);
    return undefined;
  }

  private writeBody(chunk: Buffer): Promise<void> | undefined {
    const current = this.current;
    if (!current) return undefined; // a skipped member
    try {
      return current.entry.write(chunk)?.catch((e: Error) => this.dropCurrent(e));
    } catch (e) {
      return this.dropCurrent(e as Error);
    }
  }

  /** Writing the current entry failed (the archive broke): end it and skip the rest of its body. */
  private async dropCurrent(e: Error): Promise<void> {
    this.error ??= e;
    await this.closeCurrent(e.message);
  }

  /** The stream is not tar (or is damaged): record why, close the entry in progress, drop the rest. */
  private async giveUp(e: Error): Promise<void> {
    this.error ??= e;
    this.unreadable = true;
    await this.closeCurrent(`the stream from the host could not be read: ${e.message}`);
  }

  private async closeCurrent(failure: string): Promise<void> {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    // end() rejects for a zero-filled entry; the entry is recorded with its error.
    try {
      await current.entry.end(failure);
    } catch (err) {
      this.error ??= err as Error;
    }
  }
}

/** Archive paths a host's collect steps wrote; a hardlink's maps to the file it links to. */
export type CollectedPaths = Map<string, string | undefined>;

/** End `stream` and wait until its queued writes are done (or it failed: its error is reported elsewhere). */
function endWritable(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished || stream.destroyed) return resolve();
    stream.once('error', () => resolve());
    stream.once('close', () => resolve());
    stream.end(() => resolve());
  });
}
