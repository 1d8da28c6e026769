import type { Readable } from 'node:stream';
import type { BackupMetadata, EntryRecord } from '../shapes/metadata.generated.js';

/** What metadata.json records about each entry (schemas/metadata.schema.json, generated). */
export type { EntryRecord };

export type ArchiveFormat = BackupMetadata['archive']['format'];

export type EntryType = EntryRecord['type'];

/** An entry to add to the archive. Paths are relative, '/'-separated, no '..'. */
export interface EntrySpec {
  path: string;
  type?: EntryType; // default 'file'
  /** Permission bits, e.g. 0o640. Default 0o600 for files, 0o700 for directories. */
  mode?: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Target of a symlink (as stored) or hardlink (an archive path). */
  linkpath?: string;
  /**
   * Exact byte length of the body when known (a file from a tar stream): the body is streamed
   * straight into the archive. When undefined (a command's stdout) the body is spooled to a
   * temporary file beside the partial archive first, because tar headers need the size.
   */
  size?: number;
}

export interface ArchiveResult {
  /** Bytes written (compressed). */
  bytes: number;
  /** hex sha256 of the whole archive file as stored. */
  sha256: string;
  entries: EntryRecord[];
  /** The armored SSH signature of metadata.json, when the backup was signed. */
  signature?: Buffer;
}

export interface AddOptions {
  /**
   * For a body of unknown size: called once it is spooled whole (its size is then known), before
   * it waits for its turn in the archive. The body's source is no longer needed from then on.
   */
  onSpooled?: (size: number) => void;
}

/** An entry being written: its header is in the archive and it holds the archive until `end()`. */
export interface OpenEntry {
  /** Append body bytes (hashed as they pass); a promise means: wait for it before the next write. */
  write(chunk: Buffer): Promise<void> | undefined;
  /** Set once the body went wrong (e.g. longer than declared: the excess is cut off). */
  readonly problem: string | undefined;
  /**
   * Complete the entry and hand the archive to the next one. A body shorter than declared is
   * zero-filled (`failure`: why its source stopped); then the entry is recorded with an error
   * and this rejects, like `add` does. The record comes back at once unless the archive asked
   * to wait (a promise then).
   */
  end(failure?: string): EntryRecord | Promise<EntryRecord>;
}

/**
 * Writes one archive as a stream. Entries may be added concurrently: the writer serialises
 * them (one entry's bytes are never interleaved with another's).
 */
export interface ArchiveWriter {
  readonly format: ArchiveFormat;
  /**
   * An open entry's write() is done with the chunk once it returns (or its promise settles):
   * the body is copied (tar: into the container's blocks), so the caller may reuse its buffer.
   * zip's entry streams keep chunks.
   */
  readonly copiesBodies: boolean;
  add(entry: EntrySpec, body?: Readable, options?: AddOptions): Promise<EntryRecord>;
  /**
   * Start an entry of known size whose body the caller pushes in pieces (a host's tar stream):
   * no stream per entry. The entry comes back at once when the archive is free, else a promise
   * resolves to it on its turn (a failure is always a rejected promise); the caller must `end()` it.
   */
  open(entry: EntrySpec & { size: number }): OpenEntry | Promise<OpenEntry>;
  /**
   * Append `metadata.json` (built by the callback from the entries so far) as the last entry, then
   * close. With `sign`, its signature of metadata.json's bytes goes just before it (`metadata.json.sig`).
   */
  finish(buildMetadata: (entries: EntryRecord[]) => unknown, sign?: (metadataJson: Buffer) => Buffer): Promise<ArchiveResult>;
  /** Stop writing and delete spool files; the sink is destroyed. Idempotent. */
  abort(reason?: Error): Promise<void>;
}
