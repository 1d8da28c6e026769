import { createReadStream } from 'node:fs';
import { TAR_BLOCK } from './header.js';

/**
 * GNU tar's PAX sparse format 1.0 (`tar --sparse --format=posix --sparse-version=1.0`), as the
 * restore stream sends a file with holes to a host's tar: the pax header says
 * `GNU.sparse.major=1`, `minor=0`, the name and `GNU.sparse.realsize`; the member's body starts
 * with the map in decimal text — the number of regions, then each region's offset and length,
 * one number a line, padded to a whole block — followed by the regions' bytes back to back.
 * The last region is `<realsize> 0`, as GNU tar writes it, so the extracted file ends with its
 * hole. GNU tar (and bsdtar) extract the holes as holes: only the regions are written.
 */

/** A run of bytes of a file that is stored; everything between regions is a hole (zeros). */
export interface DataRegion {
  offset: number;
  length: number;
}

/** The map block(s) at the start of the member's body. */
export function sparseMap(regions: readonly DataRegion[], realSize: number): Buffer {
  const lines = [String(regions.length + 1)];
  for (const r of regions) lines.push(String(r.offset), String(r.length));
  lines.push(String(realSize), '0');
  const text = Buffer.from(lines.join('\n') + '\n', 'latin1');
  const padded = Buffer.alloc(Math.ceil(text.length / TAR_BLOCK) * TAR_BLOCK);
  text.copy(padded);
  return padded;
}

/**
 * The member body of `file` (a local file of `realSize` bytes whose holes lie outside
 * `regions`): the map, then each region read from the file. `size` is what the tar header
 * declares.
 */
export function sparseMemberBody(file: string, regions: readonly DataRegion[], realSize: number): { size: number; body: AsyncIterable<Buffer> } {
  const map = sparseMap(regions, realSize);
  const size = map.length + regions.reduce((n, r) => n + r.length, 0);
  async function* body(): AsyncIterable<Buffer> {
    yield map;
    for (const r of regions) {
      if (r.length > 0) yield* createReadStream(file, { start: r.offset, end: r.offset + r.length - 1 }) as AsyncIterable<Buffer>;
    }
  }
  return { size, body: body() };
}
