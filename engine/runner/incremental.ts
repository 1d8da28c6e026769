/**
 * The controller's half of an incremental backup (docs/incremental.md): what each host is told
 * about the base (the previous manifest of its files), and which of its files become references
 * to the backup that holds their bytes. The host decides what to send
 * (incremental-collect-command.ts); this only trusts an unchanged signature.
 */
import { nameFromBytes, nameToBytes } from '../archive/name-bytes.js';
import type { BackupMetadata } from '../archive/metadata.js';
import type { EntryRecord, EntrySpec } from '../archive/types.js';
import { filesPrefix, hostRelativePath } from './entry-paths.js';
import { referableOutput } from './content-addressed-output.js';
import { heldPath } from '../archive/held-path.js';
import type { CollectedPaths } from './tar-collector.js';

/** The backup an incremental is compared with, as the application layer found and checked it. */
export interface IncrementalBase {
  metadata: BackupMetadata;
  /** Its archive name in the target(s). */
  archive: string;
  /** sha256 of its archive as stored (its `.sha256` sidecar). */
  sha256: string;
  /** Archive names of its chain, newest first: `archive`, its base's… down to the full. */
  chain: string[];
  /** sha256 of each archive of `chain` as stored, same order; absent when a member's is not known. */
  chainSha256?: string[];
}

/** One line of a host manifest: `<signature> <path>`, signature = 7 space-separated fields (incremental-collect-command.ts). */
const SIGNATURE_FIELDS = 7;

/**
 * Whether a file listed at `listedAt` (the host's clock) with this signature may change again
 * and keep it: a rewrite of the same size after tar read it, within the timestamp granularity of
 * its last change, keeps mtime and ctime. A filesystem that keeps whole seconds (ext4 with
 * 128-byte inodes, ext3, some NFS servers; FAT two), seen as a ctime without fraction, leaves
 * two seconds for it; one with finer times a kernel clock tick (a few ms; 50 ms allowed).
 * Local files' times come from the host's own clock; on a network filesystem whose server's clock
 * is behind the host's, a file changed just before the listing looks older and is not caught.
 */
function racy(signature: string, listedAt: number): boolean {
  const ctime = Number(signature.slice(signature.lastIndexOf(' ') + 1));
  return !(ctime < listedAt - (Number.isInteger(ctime) ? 2 : 0.05));
}

export class IncrementalCollect {
  /** Entries of the base that hold bytes a reference may point at, by archive path. */
  private readonly previous = new Map<string, EntryRecord>();
  /** References found so far (unchanged files), added to metadata.json after the stored entries. */
  readonly references: EntryRecord[] = [];

  /**
   * Collected files that became references, and per base target the path its unchanged links
   * point at: for the whole run, as a link's target may be listed by another of the host's
   * collect steps than the link.
   */
  private readonly referenced = new Set<string>();
  private readonly leaders = new Map<string, string>();

  /** The base's entries by archive path (the first record of a path, as a reader finds it). */
  private readonly byPath = new Map<string, EntryRecord>();

  constructor(readonly base: IncrementalBase | undefined) {
    const entries = base?.metadata.entries ?? [];
    for (const e of entries) {
      if (!this.byPath.has(e.path)) this.byPath.set(e.path, e);
      // Only a file whose bytes exist somewhere and whose signature is known can stay unchanged.
      if (e.type === 'file' && e.sha256 && e.stat && !e.error && !e.changedDuringRead) this.previous.set(e.path, e);
    }
    // A hardlink is the same inode as its target: unchanged while the target's signature holds.
    for (const e of entries) {
      const target = e.type === 'hardlink' ? this.previous.get(e.linkpath ?? '') : undefined;
      // Its own mode and time: the target's record may be a reference, which leaves them out.
      if (target) this.previous.set(e.path, { ...target, path: e.path, type: 'hardlink', linkpath: target.path, mode: e.mode, mtime: e.mtime });
    }
  }

  /** The previous manifest for one host's collect step: `<signature> /<path>\0` per referable file. */
  previousManifest(component: string, host: string): Buffer {
    const prefix = filesPrefix(component, host) + '/';
    const lines: Buffer[] = [];
    for (const [path, e] of this.previous) {
      if (path.startsWith(prefix)) lines.push(Buffer.from(`${e.stat} /`), nameToBytes(path.slice(prefix.length)), Buffer.from([0]));
    }
    return Buffer.concat(lines);
  }

  /**
   * After a collect step succeeded: `stored` (this step's entries, the archive writer's own
   * records) get their signature from the host's manifest, and every listed file that was not
   * sent and whose signature equals the base's becomes a reference. A file not sent whose
   * signature differs (changed after the host listed it, excluded) is neither: never a reference
   * to bytes that were not checked unchanged. A stored file changed too close to `listedAt` (the
   * host's clock when it listed; unknown: any file) gets no signature (racy): the next run sends it again.
   * `collected`: the archive paths this host's collect steps already hold (overlapping paths list
   * a file twice); each becomes one entry.
   */
  collected(
    component: string,
    host: string,
    { manifest, listedAt }: { manifest: Buffer; listedAt?: number },
    stored: ReadonlyMap<string, EntryRecord>,
    collected: CollectedPaths = new Map(),
  ): HardlinkToReference[] {
    const prefix = filesPrefix(component, host) + '/';
    const unchangedLinks: EntryRecord[] = [];
    for (const { signature, rel } of manifestLines(manifest)) {
      const path = prefix + rel;
      const record = stored.get(path);
      if (record) {
        if (record.type === 'file' && listedAt !== undefined && !racy(signature, listedAt)) record.stat = signature;
        continue;
      }
      const before = this.previous.get(path);
      if (collected.has(path) || !before || before.stat !== signature) continue;
      collected.set(path, undefined);
      if (before.type === 'hardlink') unchangedLinks.push(before);
      else {
        this.references.push(this.reference(path, before, { stat: signature }));
        this.referenced.add(path);
      }
    }
    // The host sends every link of a changed file (incremental-collect-command.ts), so an unchanged
    // link's target is unchanged too: the link goes into this archive as a link to that reference.
    const links: HardlinkToReference[] = [];
    for (const link of unchangedLinks) {
      const target = link.linkpath!;
      const leader = this.leaders.get(target) ?? (this.referenced.has(target) ? target : undefined);
      if (leader) {
        collected.set(link.path, leader);
        links.push({
          path: link.path,
          type: 'hardlink',
          linkpath: leader,
          mode: link.mode,
          mtime: link.mtime === undefined ? undefined : new Date(link.mtime),
        });
      } else {
        // Its target was not listed (excluded since): this link holds the same bytes, the others link to it.
        this.references.push(this.reference(link.path, this.previous.get(target)!, { stat: link.stat! }));
      }
      this.leaders.set(target, leader ?? link.path);
    }
    return links;
  }

  /** The base's entry for a snapshot output, when a reference may point at its bytes (content-addressed-output.ts). */
  outputBase(path: string): (EntryRecord & { sha256: string; size: number }) | undefined {
    const before = this.byPath.get(path);
    return referableOutput(before) ? before : undefined;
  }

  /** A content-addressed output the host found unchanged (same sha256 as `before`): a reference to the bytes' holder. */
  referOutput(path: string, before: EntryRecord & { sha256: string; size: number }): void {
    // Its mtime is when it was made: now, as for any output.
    this.references.push(this.reference(path, before, { mtime: new Date().toISOString() }));
  }

  /**
   * A reference to `before`'s bytes under `path`; `own` says what differs from the holder's record.
   * Mode and mtime are the holder's and left out (the signature holds the mode; ~45 bytes per
   * unchanged file of metadata.json and its sidecar), unless `own` has a time of its own.
   */
  private reference(path: string, before: EntryRecord, own: { mtime?: string; stat?: string }): EntryRecord {
    // An unchanged link whose target is no longer collected: the holder has the bytes under the target's name.
    const held = heldPath(before);
    return {
      path,
      type: 'file',
      size: before.size,
      sha256: before.sha256,
      ...(held !== path ? { linkpath: held } : {}),
      ...(own.mtime !== undefined ? { mtime: own.mtime } : {}),
      ...(own.stat !== undefined ? { stat: own.stat } : {}),
      // The backup that holds the bytes, never a chain of references.
      ref: before.ref ?? this.base!.metadata.backupId,
    };
  }
}

/** An unchanged hardlink whose target is a reference: an archive entry of its own (restore links it to the target's bytes). */
export type HardlinkToReference = EntrySpec & { type: 'hardlink'; linkpath: string };

/** Splits a host manifest into signature and archive-relative path (leading '/' dropped, as tar does). */
function* manifestLines(manifest: Buffer): Generator<{ signature: string; rel: string }> {
  let start = 0;
  while (start < manifest.length) {
    let end = manifest.indexOf(0, start);
    if (end < 0) end = manifest.length;
    let space = start;
    for (let i = 0; i < SIGNATURE_FIELDS && space >= 0; i++) space = manifest.indexOf(0x20, space + (i === 0 ? 0 : 1));
    if (space > start && space < end) {
      const signature = manifest.toString('latin1', start, space);
      const rel = hostRelativePath(nameFromBytes(manifest, space + 1, end));
      if (rel !== '') yield { signature, rel };
    }
    start = end + 1;
  }
}
