import { createHash } from 'node:crypto';
import { collectPathsPreamble, tarCreate } from './collect-command.js';
import { hostTemporary } from '../template/index.js';

/**
 * The first line of an incremental collect's stdout: `lsbackup-manifest <bytes>`, then that many
 * bytes of manifest, then the tar stream (incremental-stream.ts takes them apart).
 */
export const MANIFEST_HEADER = 'lsbackup-manifest';

/**
 * The signature of a regular file: mtime size mode uid gid inode ctime (a rewrite in place that
 * restores the mtime still moves the ctime), the mtime prefixed by the step's exclude token. It is
 * compared as an opaque string, so both sides never parse times.
 */
const signature = (token: string, separator: string) => [`${token}%T@`, '%s', '%m', '%U', '%G', '%i', '%C@'].join(separator);

/**
 * What find prints about each entry: its type, its signature as one word (the key that joins a
 * file's links: same inode, same signature), the signature as the manifest holds it, its path.
 * Fields 1, 2, 3-9, then the path (it may hold spaces).
 */
const findFormat = (token: string) => `%y ${signature(token, '_')} ${signature(token, ' ')} %p\\0`;

/**
 * What a step's exclude patterns add to every signature: nothing without patterns, else `x`, 8
 * hex digits of their sha256 and `:`. find lists excluded files too (only tar applies the
 * patterns), so a file the base stored and a new pattern now excludes would look unchanged and
 * become a reference; with the patterns in the signature, a step whose excludes changed matches
 * none of its base's signatures and is sent whole once.
 */
export function excludeToken(excludes: string[]): string {
  if (excludes.length === 0) return '';
  return `x${createHash('sha256').update(JSON.stringify(excludes)).digest('hex').slice(0, 8)}:`;
}

/**
 * The collect command of an incremental run (docs/incremental.md). The host reads the previous
 * manifest for its paths on stdin (`<signature> <path>\0` per regular file the chain holds),
 * lists its paths with GNU find, and sends:
 *   1. its own manifest (every regular file's `<signature> <path>\0`), framed by MANIFEST_HEADER,
 *      so the next run can compare with it and this one can refer to unchanged files;
 *   2. one tar stream of every directory, link and other non-file, and of the regular files whose
 *      signature is not in the previous manifest (new or changed); unchanged bytes stay on the host.
 *      When one link of a file with several is sent, all its links are: tar stores a hardlink only
 *      to a file it sent before, so a link sent alone would come back as a copy.
 * Lists are NUL-separated throughout (any byte but NUL may be in a name) and compared in the C
 * locale (bytes, not characters); names from the list are never parsed as options
 * (--verbatim-files-from). Only bash-free POSIX sh and GNU find/sort/comm/cut/join/grep/tar are used.
 */
export function incrementalCollectCommand(pathWords: string[], excludes: string[], optional: boolean): string {
  const token = excludeToken(excludes);
  return [
    'LC_ALL=C; export LC_ALL',
    // No `exec tar` below: the list files must go when the command ends, however it ends.
    ...hostTemporary('lsb_t', 'directory', 'echo "lsbackup: cannot make a temporary directory on this host (mktemp -d)" >&2; exit 2'),
    // Read all of stdin first: the controller's write must not fail because the host stopped early.
    'cat > "$lsb_t/prev" || exit 2',
    ...collectPathsPreamble(pathWords, optional),
    `find "$@" -printf '${findFormat(token)}' > "$lsb_t/all" || { echo "lsbackup: listing the collect paths with find failed" >&2; exit 2; }`,
    `grep -z '^f ' "$lsb_t/all" | cut -z -d' ' -f3- | sort -z > "$lsb_t/now"`,
    'sort -z "$lsb_t/prev" > "$lsb_t/prev.sorted"',
    // The signatures of new and changed files: every link of such a file goes (same key).
    `comm -z -13 "$lsb_t/prev.sorted" "$lsb_t/now" | cut -z -d' ' -f1-7 --output-delimiter=_ | sort -zu > "$lsb_t/changed.keys"`,
    `printf '${MANIFEST_HEADER} %s\\n' "$(wc -c < "$lsb_t/now")"`,
    'cat "$lsb_t/now"',
    // tar stores the names in the order it reads them: find's, numbered here and put back after
    // the join, so every directory comes before what it holds and its contents together. A tar
    // that extracts the archive sets a directory's time and mode when it meets an entry outside
    // it; anything written into it later would move its time or hit its read-only mode.
    `grep -zn '' "$lsb_t/all" > "$lsb_t/numbered"`,
    '{',
    `  grep -z '^[0-9]*:[^f] ' "$lsb_t/numbered" | cut -z -d' ' -f1,10-`,
    `  grep -z '^[0-9]*:f ' "$lsb_t/numbered" | sort -z -t' ' -k2,2 | join -z -t' ' -1 2 -2 1 - "$lsb_t/changed.keys" | cut -z -d' ' -f2,10-`,
    `} | sort -z -t: -k1,1n | cut -z -d: -f2- | cut -z -d' ' -f2- > "$lsb_t/send"`,
    // Every name is listed: --no-recursion keeps tar from sending unchanged files under a directory.
    `${tarCreate(excludes)} --no-recursion --null --verbatim-files-from --files-from="$lsb_t/send"`,
    'exit $?',
  ].join('\n');
}
