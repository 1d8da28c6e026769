import { shellQuote } from '../template/index.js';

/**
 * The POSIX sh command that streams a collect step's paths from a host as ONE tar stream
 * (no per-file round trips). `pathWords` are rendered shell words (substituted values are
 * already quoted, so shell globs in the recipe still expand on the host); excludes are data
 * and are quoted here. Missing paths fail the step unless `optional`, unreadable files make
 * tar exit 2 and are reported from its stderr.
 */
export function collectCommand(pathWords: string[], excludes: string[], optional: boolean): string {
  const excludeArgs = excludes.map((e) => `--exclude=${shellQuote(e)}`).join(' ');
  const onMissing = optional ? ':' : 'echo "lsbackup: no such file or directory: $p" >&2; missing=1';
  return [
    'missing=0; set --',
    `for p in ${pathWords.join(' ')}; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; else ${onMissing}; fi; done`,
    '[ "$missing" = 0 ] || exit 3',
    '[ $# -gt 0 ] || exit 0',
    // --warning=no-file-changed: a log file growing while read is normal on a live host.
    // --format=posix: pax headers carry owner names (GNU tar's default format hides them from
    // node-tar), long paths and exact mtimes.
    // No --sparse: GNU sparse members (type S) are not understood by the archive's tar parser
    // and were dropped silently (ZooKeeper txn logs and Kafka indexes are preallocated sparse).
    `exec tar --create --format=posix --file=- --warning=no-file-changed ${excludeArgs} -- "$@"`,
  ].join('\n');
}

/** tar's notes that are not problems (it strips the leading '/' of member names on purpose). */
export function meaningfulTarStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/Removing leading [`']\/' from/.test(l))
    .join('\n');
}
