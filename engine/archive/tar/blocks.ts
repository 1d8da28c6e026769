import type { NormalisedEntry } from '../entry.js';
import { encodeHeader, TAR_BLOCK } from './header.js';

export { TAR_BLOCK };
/** Two zero blocks end a tar archive. */
export const TAR_END = Buffer.alloc(2 * TAR_BLOCK);

const TYPE_FLAG = { file: '0', directory: '5', symlink: '2', hardlink: '1' } as const;

/** The header block(s) of one entry (see encodeHeader). */
export function tarHeader(e: NormalisedEntry & { size: number }): Buffer {
  return encodeHeader({
    // GNU tar writes directories with a trailing slash; keep that shape.
    path: e.type === 'directory' ? `${e.path}/` : e.path,
    flag: TYPE_FLAG[e.type],
    linkpath: e.linkpath,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    uname: e.uname,
    gname: e.gname,
    size: e.size,
    mtime: e.mtime,
    sparse: e.sparse,
  });
}

const ZERO_BLOCK = Buffer.alloc(TAR_BLOCK);

/** Zero bytes that round a body of `size` bytes up to a whole block (a view of one shared block: never write to it). */
export function tarPadding(size: number): Buffer {
  const rest = size % TAR_BLOCK;
  return ZERO_BLOCK.subarray(0, rest === 0 ? 0 : TAR_BLOCK - rest);
}
