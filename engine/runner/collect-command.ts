import { shellQuote } from '../template/index.js';

/**
 * The POSIX sh command that streams a collect step's paths from a host as ONE tar stream
 * (no per-file round trips). `pathWords` are rendered shell words (substituted values are
 * already quoted, so shell globs in the recipe still expand on the host); excludes are data
 * and are quoted here. Missing paths fail the step unless `optional`, unreadable files make
 * tar exit 2 and are reported from its stderr.
 */
export function collectCommand(pathWords: string[], excludes: string[], optional: boolean): string {
  return [
    ...collectPathsPreamble(pathWords, optional),
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
  const excludeArgs = excludes.map((e) => ` --exclude=${shellQuote(e)}`).join('');
  // 64 KiB records (tar's default is 10 KiB): a sixth of the writes on the host and of the
  // reads and wake-ups of the process that receives the stream (BENCHMARKS.md, "The local case").
  return `tar --create --format=posix --blocking-factor=128 --file=-${excludeArgs}`;
}

/**
 * Lines that leave the collect paths that exist in "$@" (missing ones: exit 3 unless
 * `optional`), warn about a path that is a symlink to a directory, and exit 0 when none is left.
 */
export function collectPathsPreamble(pathWords: string[], optional: boolean): string[] {
  const onMissing = optional ? ':' : 'echo "lsbackup: no such file or directory: $p" >&2; missing=1';
  return [
    'missing=0; set --',
    `for p in ${pathWords.join(' ')}; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; else ${onMissing}; fi; done`,
    // A collect path that is a symlink to a directory is saved as the link (restore writes no
    // files through links): say so, naming what to collect instead.
    `for p in "$@"; do if [ -L "$p" ] && [ -d "$p" ]; then echo "lsbackup: $p is a symbolic link to a directory: only the link is collected; collect $(readlink -f "$p") to save its files" >&2; fi; done`,
    '[ "$missing" = 0 ] || exit 3',
    '[ $# -gt 0 ] || exit 0',
  ];
}

/** tar's notes that are not problems (it strips the leading '/' of member names on purpose). */
export function meaningfulTarStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/Removing leading [`']\/' from/.test(l))
    .join('\n');
}
