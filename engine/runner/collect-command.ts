import { shellQuote } from '../template/index.js';

/**
 * The POSIX sh command that streams a collect step's paths from a host as ONE tar stream
 * (no per-file round trips). `pathWords` are rendered shell words (substituted values are
 * already quoted, so shell globs in the recipe still expand on the host); excludes are data
 * and are quoted here. Missing paths fail the step unless `optional`, a path an exclude pattern
 * leaves out whole fails it, unreadable files make tar exit 2 and are reported from its stderr.
 */
export function collectCommand(pathWords: string[], excludes: string[], optional: boolean): string {
  return [
    ...collectPathsPreamble(pathWords, excludes, optional),
    // No --warning=no-file-changed: tar exits 1 for a file that changed while read either way,
    // and its note names the file (a warning, and the entry is marked: tar-diagnostics.ts).
    // --format=posix: pax headers carry owner names (GNU tar's default format hides them from
    // node-tar), long paths and exact mtimes.
    // No --sparse: GNU sparse members (type S) are not understood by the archive's tar parser
    // and were dropped silently (ZooKeeper txn logs and Kafka indexes are preallocated sparse).
    `exec ${tarCreate(excludes)} -- "$@"`,
  ].join('\n');
}

/** tar as every collect runs it (see collectCommand for why these options), excludes quoted as data. */
export function tarCreate(excludes: string[]): string {
  // 64 KiB records (tar's default is 10 KiB): a sixth of the writes on the host and of the
  // reads and wake-ups of the process that receives the stream (BENCHMARKS.md, "The local case").
  return `tar --create --format=posix --blocking-factor=128 --file=-${excludeOptions(excludes)}`;
}

/** ` --exclude='…'` for each pattern, quoted as data. */
function excludeOptions(excludes: string[]): string {
  return excludes.map((e) => ` --exclude=${shellQuote(e)}`).join('');
}

/**
 * Lines that leave the collect paths that exist in "$@" (missing ones: exit 3 unless
 * `optional`), warn about a path that is a symlink to a directory, refuse a path an exclude
 * pattern matches itself (exit 3), and exit 0 when none is left.
 */
export function collectPathsPreamble(pathWords: string[], excludes: string[], optional: boolean): string[] {
  const onMissing = optional ? ':' : 'echo "lsbackup: no such file or directory: $p" >&2; refused=1';
  return [
    'refused=0; set --',
    `for p in ${pathWords.join(' ')}; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; else ${onMissing}; fi; done`,
    // A collect path that is a symlink to a directory is saved as the link (restore writes no
    // files through links): say so, naming what to collect instead.
    `for p in "$@"; do if [ -L "$p" ] && [ -d "$p" ]; then echo "lsbackup: $p is a symbolic link to a directory: only the link is collected; collect $(readlink -f "$p") to save its files" >&2; fi; done`,
    ...excludedPathCheck(excludes),
    '[ "$refused" = 0 ] || exit 3',
    '[ $# -gt 0 ] || exit 0',
  ];
}

/**
 * Lines that refuse a collect path in "$@" which an exclude pattern matches itself: tar would
 * leave the whole path out and the step would store nothing, a success that restores nothing.
 * tar matches a pattern against each trailing part of a name, as a leading directory too, its
 * `*` also matching '/' (`foo`, `/etc/*` and `etc` all match `/etc/foo`), and a path comes from
 * globs and templates, so the host's tar itself is asked: the first name it lists for the path
 * (to /dev/null, reading no file; `head` stops it there) is the path's own unless a pattern
 * leaves it out. A path it lists without the patterns and not with them is refused, naming
 * each pattern that does it.
 */
function excludedPathCheck(excludes: string[]): string[] {
  if (excludes.length === 0) return [];
  const patterns = excludes.map(shellQuote).join(' ');
  return [
    `lsb_listed() { [ -n "$(tar --create --file=/dev/null --verbose "$@" 2>/dev/null | head -c 1)" ]; }`,
    `for p in "$@"; do if ! lsb_listed${excludeOptions(excludes)} -- "$p" && lsb_listed -- "$p"; then refused=1; ` +
      `for x in ${patterns}; do lsb_listed --exclude="$x" -- "$p" || echo "lsbackup: exclude pattern '$x' matches the collect path $p itself (tar matches a pattern against each trailing part of a path and its leading directories, and its * matches '/' too), so nothing of the path would be stored; write a pattern that matches only what is below it (e.g. '$p/*.log'), or take the path out of collect" >&2; done; fi; done`,
  ];
}

/** tar's notes that are not problems (it strips the leading '/' of member names on purpose). */
export function meaningfulTarStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/Removing leading [`']\/' from/.test(l))
    .join('\n');
}
