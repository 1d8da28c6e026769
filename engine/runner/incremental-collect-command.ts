import { createHash } from 'node:crypto';
import { collectPathsPreamble, tarCreate } from './collect-command.js';
import { hostTemporary } from '../template/index.js';

/**
 * The first line of an incremental collect's stdout: `lsbackup-manifest <bytes> <listed>`, then
 * that many bytes of manifest, then the tar stream (incremental-stream.ts takes them apart).
 * `<listed>`: seconds since the epoch, just before the host listed the files (incremental.ts, racy): the
 * ctime of a file it makes then in its temporary directory, so the clock that stamps its files,
 * never `date`, which a faked time (a wrapper, LD_PRELOAD) can put ahead of them.
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
    ...collectPathsPreamble(pathWords, excludes, optional),
    `: > "$lsb_t/listed" && lsb_listed=$(find "$lsb_t/listed" -printf '%C@') && [ -n "$lsb_listed" ] || { echo "lsbackup: reading this host's clock (the time of a file made in $lsb_t) failed" >&2; exit 2; }`,
    `find "$@" -printf '${findFormat(token)}' > "$lsb_t/all" || { echo "lsbackup: listing the collect paths with find failed" >&2; exit 2; }`,
    // Every stage writes a file and is checked: a pipeline's status is its last command's (sh
    // has no pipefail), and a sort that ran out of temporary space once left an empty list, and
    // a backup without a single file that said success.
    `lsb_failed() { echo "lsbackup: $1 failed on this host (is there space left in $lsb_t?)" >&2; exit 2; }`,
    // grep exits 1 when nothing matches (no regular file, no directory): not a failure.
    `lsb_grep() { grep "$@"; [ $? -le 1 ]; }`,
    // Each list is about the manifest's size (100 bytes a file): removed as soon as it is used.
    // The regular files' lines without their type and key: the manifest.
    `sed -z -n 's/^f [^ ]* //p' "$lsb_t/all" > "$lsb_t/manifest" || lsb_failed 'making the manifest'`,
    `sort -z "$lsb_t/manifest" > "$lsb_t/now" || lsb_failed 'sorting the manifest'`,
    'rm -f "$lsb_t/manifest"',
    `sort -z "$lsb_t/prev" > "$lsb_t/prev.sorted" || lsb_failed 'sorting the previous manifest'`,
    'rm -f "$lsb_t/prev"',
    // The signatures of new and changed files: every link of such a file goes (same key).
    `comm -z -13 "$lsb_t/prev.sorted" "$lsb_t/now" > "$lsb_t/new" || lsb_failed 'comparing the manifests'`,
    'rm -f "$lsb_t/prev.sorted"',
    `cut -z -d' ' -f1-7 --output-delimiter=_ "$lsb_t/new" > "$lsb_t/new.keys" || lsb_failed 'comparing the manifests'`,
    `sort -zu "$lsb_t/new.keys" > "$lsb_t/changed.keys" || lsb_failed 'comparing the manifests'`,
    'rm -f "$lsb_t/new" "$lsb_t/new.keys"',
    `printf '${MANIFEST_HEADER} %s %s\\n' "$(wc -c < "$lsb_t/now")" "$lsb_listed"`,
    'cat "$lsb_t/now"',
    // tar stores the names in the order it reads them: find's, numbered here and put back after
    // the join, so every directory comes before what it holds and its contents together. A tar
    // that extracts the archive sets a directory's time and mode when it meets an entry outside
    // it; anything written into it later would move its time or hit its read-only mode.
    `lsb_grep -zn '' "$lsb_t/all" > "$lsb_t/numbered" || lsb_failed 'numbering the list'`,
    'rm -f "$lsb_t/all"',
    `lsb_grep -z '^[0-9]*:[^f] ' "$lsb_t/numbered" > "$lsb_t/others" || lsb_failed 'picking the directories and links'`,
    `cut -z -d' ' -f1,10- "$lsb_t/others" > "$lsb_t/send.others" || lsb_failed 'picking the directories and links'`,
    'rm -f "$lsb_t/others"',
    `lsb_grep -z '^[0-9]*:f ' "$lsb_t/numbered" > "$lsb_t/files.numbered" || lsb_failed 'picking the changed files'`,
    `sort -z -t' ' -k2,2 "$lsb_t/files.numbered" > "$lsb_t/files.by-key" || lsb_failed 'picking the changed files'`,
    'rm -f "$lsb_t/numbered" "$lsb_t/files.numbered"',
    `join -z -t' ' -1 2 -2 1 "$lsb_t/files.by-key" "$lsb_t/changed.keys" > "$lsb_t/changed" || lsb_failed 'picking the changed files'`,
    `cut -z -d' ' -f2,10- "$lsb_t/changed" > "$lsb_t/send.files" || lsb_failed 'picking the changed files'`,
    'rm -f "$lsb_t/files.by-key" "$lsb_t/changed"',
    `sort -z -t: -k1,1n "$lsb_t/send.others" "$lsb_t/send.files" > "$lsb_t/send.numbered" || lsb_failed 'ordering the names to send'`,
    `cut -z -d: -f2- "$lsb_t/send.numbered" > "$lsb_t/send.named" || lsb_failed 'ordering the names to send'`,
    `cut -z -d' ' -f2- "$lsb_t/send.named" > "$lsb_t/send" || lsb_failed 'ordering the names to send'`,
    'rm -f "$lsb_t/send.others" "$lsb_t/send.files" "$lsb_t/send.numbered" "$lsb_t/send.named"',
    // Every name is listed: --no-recursion keeps tar from sending unchanged files under a directory.
    // It comes after the excludes: GNU tar gives a pattern its leading-directory match (`sub` leaves
    // out sub/a.key, as in a full collect) only when the pattern precedes --no-recursion.
    `${tarCreate(excludes)} --no-recursion --null --verbatim-files-from --files-from="$lsb_t/send"`,
    'exit $?',
  ].join('\n');
}
