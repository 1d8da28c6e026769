import { shellQuote } from '../template/index.js';

/**
 * zstd level on the source host. -1 is zstd's fastest regular level: ~400 MB/s on one core,
 * more than a 1 Gbit/s link carries, and still about half the bytes of text. A production
 * host should not spend more CPU on its backup than the link needs.
 */
export const REMOTE_ZSTD_LEVEL = 1;

/** What the host prints (and exits 127 with) when it has no zstd; the controller names the host. */
export const NO_ZSTD_ON_HOST = 'lsbackup: zstd not found on this host';
export const NO_ZSTD_EXIT = 127;

/**
 * The POSIX sh command that runs `command` on a host with its stdout compressed by
 * `zstd -1 -q -c` (one compression thread: light on the host). The command is passed as data
 * (`sh -c "$lsb_cmd"`), never re-parsed inside the wrapper, and runs in a shell of its own
 * because collect commands end in `exec tar`. Its stderr stays stderr.
 *
 * sh has no pipefail, so both exit statuses come back through fd 3 ("c<status>" and
 * "z<status>") while fd 4 carries zstd's output to the real stdout; neither fd is left open in
 * the command or in zstd, so a daemon the command starts cannot hold the wrapper open. The
 * wrapper exits with the command's status, else with zstd's (zstd failing is said on stderr).
 */
export function remoteCompressCommand(command: string): string {
  return [
    `lsb_cmd=${shellQuote(command)}`,
    `command -v zstd >/dev/null 2>&1 || { echo '${NO_ZSTD_ON_HOST}' >&2; exit ${NO_ZSTD_EXIT}; }`,
    'exec 4>&1',
    `s=$( { { sh -c "$lsb_cmd" 3>&- 4>&-; echo "c$?" >&3; } | { zstd -${REMOTE_ZSTD_LEVEL} -q -c 3>&- 4>&-; echo "z$?" >&3; } >&4; } 3>&1 )`,
    'c=${s#*c}; c=${c%%[!0-9]*}; z=${s#*z}; z=${z%%[!0-9]*}',
    '[ "$z" = 0 ] || echo "lsbackup: zstd on this host failed (exit status ${z:-unknown})" >&2',
    '[ "$c" = 0 ] || exit "${c:-1}"',
    '[ "$z" = 0 ] || exit "${z:-1}"',
  ].join('\n');
}
