import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { DataRegion } from '../archive/tar/sparse.js';

/**
 * Writes a staged body to a local file the way `cp --sparse=always` does: a 4 KiB block
 * (aligned to its offset in the file) that is all zeros is skipped, leaving a hole, and the file
 * is truncated to its full length at the end. The archive holds a file's logical bytes (tar
 * without --sparse, zip), so this is where a sparse file gets its holes back — in staging, and,
 * through `dataRegions`, in the stream that restores it on its host (engine/archive/tar/sparse.ts). A file
 * that had zero blocks on disk comes back sparse too, as with rsync --sparse.
 */

/** Hole granularity: the usual filesystem block; smaller runs of zeros would not free a block. */
export const HOLE_BLOCK = 4096;
/** Beyond this many regions the rest of the file is written as data: the map stays small (~1.5 MiB). */
export const MAX_REGIONS = 65_536;

/** Bytes gathered before they are written: one write per run of data up to this size, not per chunk. */
const BATCH = 1024 * 1024;

const ZEROS = Buffer.alloc(HOLE_BLOCK);

function isZero(buf: Buffer, start: number, end: number): boolean {
  // Most data blocks differ from zeros in their first byte: skip the full compare for them.
  return buf[start] === 0 && buf.compare(ZEROS, 0, end - start, start, end) === 0;
}

export class SparseFileWriter extends Writable {
  private handle: FileHandle | undefined;
  /** Bytes received and not written yet; batch[0] is at file offset `batchOffset` (block-aligned). */
  private readonly batch: Buffer;
  private filled = 0;
  private batchOffset = 0;
  private readonly regions: DataRegion[] = [];

  /** `sizeHint`: the body's expected length, so a small file gets a small batch buffer. */
  constructor(
    private readonly file: string,
    private readonly mode: number,
    sizeHint = BATCH,
    private readonly maxRegions = MAX_REGIONS,
  ) {
    super();
    this.batch = Buffer.allocUnsafe(Math.max(HOLE_BLOCK, Math.min(BATCH, Math.ceil(sizeHint / HOLE_BLOCK) * HOLE_BLOCK)));
  }

  /** The regions that hold data, when the file has at least one hole; undefined for a dense file. */
  dataRegions(): DataRegion[] | undefined {
    const stored = this.regions.reduce((n, r) => n + r.length, 0);
    return stored < this.batchOffset ? this.regions : undefined;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.file, 'w', this.mode).then((h) => {
      this.handle = h;
      callback();
    }, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    (async () => {
      for (let at = 0; at < chunk.length;) {
        const copied = chunk.copy(this.batch, this.filled, at);
        this.filled += copied;
        at += copied;
        if (this.filled === this.batch.length) await this.flush();
      }
    })().then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      await this.flush();
      // The last, partial block: a hole when it is all zeros (the truncate below makes it so).
      if (this.filled > 0) await this.writeDataBlocks(this.filled);
      await this.handle!.truncate(this.batchOffset);
      await this.handle!.close();
      this.handle = undefined;
    })().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return callback(error);
    handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  /** Writes the whole blocks of the batch; a partial block stays, moved to its start. */
  private async flush(): Promise<void> {
    const whole = this.filled - (this.filled % HOLE_BLOCK);
    if (whole === 0) return;
    await this.writeDataBlocks(whole);
    this.batch.copy(this.batch, 0, whole, this.filled);
    this.filled -= whole;
  }

  /** batch[0, end) to the file: runs of data blocks in one write each, zero blocks skipped; then `batchOffset` moves past them. */
  private async writeDataBlocks(end: number): Promise<void> {
    let run = -1;
    for (let at = 0; at < end; at += HOLE_BLOCK) {
      const hole = this.regions.length < this.maxRegions && isZero(this.batch, at, Math.min(at + HOLE_BLOCK, end));
      if (!hole && run < 0) run = at;
      else if (hole && run >= 0) {
        await this.store(run, at);
        run = -1;
      }
    }
    if (run >= 0) await this.store(run, end);
    this.batchOffset += end;
  }

  /** Writes batch[start, end) at its place in the file and records it as data. */
  private async store(start: number, end: number): Promise<void> {
    const position = this.batchOffset + start;
    for (let written = 0; written < end - start;) {
      const { bytesWritten } = await this.handle!.write(this.batch, start + written, end - start - written, position + written);
      written += bytesWritten;
    }
    const last = this.regions.at(-1);
    if (last && last.offset + last.length === position) last.length += end - start;
    else this.regions.push({ offset: position, length: end - start });
  }
}
