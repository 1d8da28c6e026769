import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { DataRegion } from '../archive/tar-sparse.js';

/**
 * Writes a staged body to a local file the way `cp --sparse=always` does: a 4 KiB block
 * (aligned to its offset in the file) that is all zeros is skipped, leaving a hole, and the file
 * is truncated to its full length at the end. The archive holds a file's logical bytes (tar
 * without --sparse, zip), so this is where a sparse file gets its holes back — in staging, and,
 * through `dataRegions`, in the stream that restores it on its host (tar-sparse.ts). A file
 * that had zero blocks on disk comes back sparse too, as with rsync --sparse.
 */

/** Hole granularity: the usual filesystem block; smaller runs of zeros would not free a block. */
export const HOLE_BLOCK = 4096;
/** Beyond this many regions the rest of the file is written as data: the map stays small (~1.5 MiB). */
export const MAX_REGIONS = 65_536;

const ZEROS = Buffer.alloc(HOLE_BLOCK);
const EMPTY = Buffer.alloc(0);

function isZero(buf: Buffer, start: number, end: number): boolean {
  // Most data blocks differ from zeros in their first byte: skip the full compare for them.
  return buf[start] === 0 && buf.compare(ZEROS, 0, end - start, start, end) === 0;
}

export class SparseFileWriter extends Writable {
  private handle: FileHandle | undefined;
  /** Bytes received so far (the logical offset of the next byte). */
  private offset = 0;
  /** The start of a block that has not been whole yet (chunks do not arrive block-aligned). */
  private pending: Buffer = EMPTY;
  private readonly regions: DataRegion[] = [];

  constructor(
    private readonly file: string,
    private readonly mode: number,
    private readonly maxRegions = MAX_REGIONS,
  ) {
    super();
  }

  /** The regions that hold data, when the file has at least one hole; undefined for a dense file. */
  dataRegions(): DataRegion[] | undefined {
    const stored = this.regions.reduce((n, r) => n + r.length, 0);
    return stored < this.offset ? this.regions : undefined;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.file, 'w', this.mode).then((h) => {
      this.handle = h;
      callback();
    }, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeBlocks(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      // The last, partial block: a hole when it is all zeros (the truncate below makes it so).
      const tail = this.pending;
      if (tail.length > 0 && !this.isHole(tail, 0, tail.length)) await this.store(tail, 0, tail.length, this.offset - tail.length);
      await this.handle!.truncate(this.offset);
      await this.handle!.close();
      this.handle = undefined;
    })().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return callback(error);
    handle.close().then(() => callback(error), () => callback(error));
  }

  private async writeBlocks(chunk: Buffer): Promise<void> {
    const chunkOffset = this.offset;
    this.offset += chunk.length;
    let at = 0;
    if (this.pending.length > 0) {
      at = Math.min(HOLE_BLOCK - this.pending.length, chunk.length);
      this.pending = Buffer.concat([this.pending, chunk.subarray(0, at)]);
      if (this.pending.length < HOLE_BLOCK) return;
      const block = this.pending;
      this.pending = EMPTY;
      await this.writeDataBlocks(block, 0, HOLE_BLOCK, chunkOffset + at - HOLE_BLOCK);
    }
    const whole = chunk.length - ((chunk.length - at) % HOLE_BLOCK);
    await this.writeDataBlocks(chunk, at, whole, chunkOffset + at);
    if (whole < chunk.length) this.pending = Buffer.from(chunk.subarray(whole));
  }

  private isHole(buf: Buffer, start: number, end: number): boolean {
    return this.regions.length < this.maxRegions && isZero(buf, start, end);
  }

  /** The whole blocks buf[start, end), the first at file offset `position`: runs of data blocks in one write each, zero blocks skipped. */
  private async writeDataBlocks(buf: Buffer, start: number, end: number, position: number): Promise<void> {
    let run = -1;
    for (let at = start; at < end; at += HOLE_BLOCK) {
      const hole = this.isHole(buf, at, at + HOLE_BLOCK);
      if (!hole && run < 0) run = at;
      else if (hole && run >= 0) {
        await this.store(buf, run, at, position + run - start);
        run = -1;
      }
    }
    if (run >= 0) await this.store(buf, run, end, position + run - start);
  }

  /** Writes buf[start, end) at file offset `position` and records it as data. */
  private async store(buf: Buffer, start: number, end: number, position: number): Promise<void> {
    for (let written = 0; written < end - start; ) {
      const { bytesWritten } = await this.handle!.write(buf, start + written, end - start - written, position + written);
      written += bytesWritten;
    }
    const last = this.regions.at(-1);
    if (last && last.offset + last.length === position) last.length += end - start;
    else this.regions.push({ offset: position, length: end - start });
  }
}
