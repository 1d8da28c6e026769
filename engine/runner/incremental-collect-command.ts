import { createHash } from 'node:crypto';
import { collectPathsPreamble, tarCreate } from './collect-command.js';
import { hostTemporary } from '../template/index.js';

/**
 * The first line of an incremental collect's stdout: `lsbackup-manifest <bytes>`, then that many
 * bytes of manifest, then the tar stream (incremental-stream.ts takes them apart).
 */
export const MANIFEST_HEADER = 'lsbackup-manifest';

/**
 * What find prints about each entry: type, then the signature of a regular file, then the path.
 * The signature is mtime size mode uid gid inode ctime (a rewrite in place that restores the
 * mtime still moves the ctime), the mtime prefixed by the step's exclude token. It is compared
 * as an opaque string, so both sides never parse times.
 */
const findFormat = (token: string) => `%y ${token}%T@ %s %m %U %G %i %C@ %p\\0`;

/** A file with more than one link: its signature as one word (the key joining its links), then its path. */
const linkedFormat = (token: string) => `${token}%T@_%s_%m_%U_%G_%i_%C@ %p\\0`;

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
    `find "$@" -printf '${findFormat(token)}' \\( -type f -links +1 -fprintf "$lsb_t/linked" '${linkedFormat(token)}' \\) > "$lsb_t/all" || { echo "lsbackup: listing the collect paths with find failed" >&2; exit 2; }`,
    `grep -z '^f ' "$lsb_t/all" | cut -z -d' ' -f2- | sort -z > "$lsb_t/now"`,
    'sort -z "$lsb_t/prev" > "$lsb_t/prev.sorted"',
    'comm -z -13 "$lsb_t/prev.sorted" "$lsb_t/now" > "$lsb_t/changed.lines"',
    // Fields 1-7 are the signature, the path is the rest (it may hold spaces).
    'cut -z -d\' \' -f8- "$lsb_t/changed.lines" > "$lsb_t/changed"',
    // Every link of a changed file with several links goes too (joined on the signature: same inode).
    'if [ -s "$lsb_t/linked" ]; then',
    '  cut -z -d\' \' -f1-7 --output-delimiter=_ "$lsb_t/changed.lines" | sort -zu > "$lsb_t/changed.keys"',
    '  sort -z -t\' \' -k1,1 "$lsb_t/linked" | join -z -t\' \' "$lsb_t/changed.keys" - | cut -z -d\' \' -f2- >> "$lsb_t/changed"',
    '  sort -zu "$lsb_t/changed" > "$lsb_t/changed.all" && mv "$lsb_t/changed.all" "$lsb_t/changed"',
    'fi',
    `grep -zv '^f ' "$lsb_t/all" | cut -z -d' ' -f9- > "$lsb_t/other"`,
    `printf '${MANIFEST_HEADER} %s\\n' "$(wc -c < "$lsb_t/now")"`,
    'cat "$lsb_t/now"',
    // Every name is listed: --no-recursion keeps tar from sending unchanged files under a directory.
    `cat "$lsb_t/other" "$lsb_t/changed" | ${tarCreate(excludes)} --no-recursion --null --verbatim-files-from --files-from=-`,
    'exit $?',
  ].join('\n');
}
