import type { Readable, Writable } from 'node:stream';

/** A stored object (an archive or one of its sidecars). */
export interface StoredObject {
  name: string;
  size: number;
  modified: Date;
}

/**
 * An upload in progress. Bytes written to `stream` are not visible under any final name
 * until `commit()` resolves; `abort()` removes every trace (temp file, multipart parts).
 */
export interface PendingUpload {
  stream: Writable;
  /**
   * When the upload is a local file: its descriptor, open read-write. A writer may then fill
   * the file itself (a child process writing it directly) instead of writing `stream`, and
   * read it back; it must still end `stream`, which closes the descriptor.
   */
  fd?: number;
  /**
   * Make the object visible, together with its sidecars (`<final name><suffix>`): all of them
   * or none, never replacing an existing object (see targets/support/publish-together.ts).
   * With `avoidCollision`, a taken name (archive or any sidecar) gets `_1`, `_2`... before the
   * extension (lsbackup-x-20260101T000000Z_1.tar.gz); without, it fails. Resolves to the final
   * name. On failure nothing is left under a final name and the upload is gone.
   */
  commit(sidecars?: readonly Sidecar[]): Promise<StoredObject>;
  abort(): Promise<void>;
}

/** A small object published with an archive, named `<archive's final name><suffix>`. */
export interface Sidecar {
  /** `.sha256`, `.metadata.json`... */
  suffix: string;
  /** Its bytes for the archive's final name (the `.sha256` line names it); called again when the name changes. */
  content(archiveName: string): Readable;
}

export interface PutOptions {
  /** Pick `name_1.ext`, `name_2.ext`... when `name` exists instead of overwriting. */
  avoidCollision?: boolean;
}

export interface StaleScope {
  cluster?: string;
  dryRun?: boolean;
}

/** A storage location. One plugin per file in targets/, registered in targets/registry.ts. */
export interface Target {
  /** The URI as the user wrote it (credentials never included). */
  readonly uri: string;
  /**
   * A local directory on the same filesystem as the stored archive, when the target has one
   * (local, NFS): spool files live beside the partial archive. Others spool to a private temp dir.
   */
  readonly spoolDir?: string;
  /** The directory on this machine holding the objects (local, NFS): its free space is a metric. */
  readonly directory?: string;
  /** Where runs against this target take their lock (a directory target keeps it inside). */
  readonly lockFile?: string;
  /**
   * What names the store, for the lock of a target without a lockFile, when one store has
   * several URIs (`s3://b/p` and `s3://b/p/` are one prefix); else the URI names it.
   */
  readonly storeKey?: string;
  /**
   * Removes what a killed or failed run left behind (temp files, incomplete multipart uploads)
   * and returns what it removed (with `dryRun`: would remove). Called only while holding the
   * target's lock; a store other machines write too (S3) keeps what is younger than its grace
   * period. With `cluster`, only leftovers of that cluster's backups.
   */
  cleanStale?(scope?: StaleScope): Promise<string[]>;
  /** Deletes many objects in few requests (S3 DeleteObjects); prune uses it when present. */
  deleteMany?(names: string[]): Promise<void>;
  /** Check the target is usable (exists, mounted, writable, credentials valid) before a run starts. */
  check(): Promise<void>;
  put(name: string, options?: PutOptions): Promise<PendingUpload>;
  list(): Promise<StoredObject[]>;
  stat(name: string): Promise<StoredObject | undefined>;
  get(name: string): Promise<Readable>;
  delete(name: string): Promise<void>;
}
