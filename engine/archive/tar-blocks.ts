import { Header, Pax } from 'tar';
import type { NormalisedEntry } from './entry.js';

export const TAR_BLOCK = 512;
/** Two zero blocks end a tar archive. */
export const TAR_END = Buffer.alloc(2 * TAR_BLOCK);

const TAR_TYPE = { file: 'File', directory: 'Directory', symlink: 'SymbolicLink', hardlink: 'Link' } as const;

/**
 * The header block(s) of one entry: a ustar header, preceded by a pax extended header when a
 * field does not fit ustar (long or non-ASCII path, size >= 8 GiB, big uid...). node-tar's
 * Header/Pax do the encoding; its Pack is filesystem-oriented, so we do not use it.
 */
export function tarHeader(e: NormalisedEntry & { size: number }): Buffer {
  const fields = {
    // GNU tar writes directories with a trailing slash; keep that shape.
    path: e.type === 'directory' ? `${e.path}/` : e.path,
    linkpath: e.linkpath,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    uname: e.uname,
    gname: e.gname,
    size: e.size,
    mtime: e.mtime,
  };
  const header = new Header({ ...fields, type: TAR_TYPE[e.type] });
  const needPax = header.encode();
  const block = header.block;
  if (!block) throw new Error(`could not encode a tar header for ${e.path}`);
  return needPax ? Buffer.concat([new Pax(fields).encode(), block]) : block;
}

/** Zero bytes that round a body of `size` bytes up to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(TAR_BLOCK - rest);
}
