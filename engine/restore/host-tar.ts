/**
 * What a `files:` step asks of the host's tar, by the first line of its `tar --version`
 * (./destination-check.ts asks it): GNU tar (what the hosts lsbackup backs up run), bsdtar, or a
 * tar that says it is neither.
 */

const isGnuTar = (versionLine: string) => /GNU tar/.test(versionLine);

/**
 * GNU tar and bsdtar write a PAX 1.0 sparse member's holes as holes (engine/archive/tar/sparse.ts);
 * a tar that says it is neither might write the map into the file, so it gets the file's every byte.
 */
export function tarKeepsHoles(versionLine: string): boolean {
  return isGnuTar(versionLine) || /bsdtar|libarchive/.test(versionLine);
}

/**
 * The host's tar extracting the stream a step sends. Directories above the collected path that a
 * rebuilt host lacks are not in the stream: tar makes them root's, with the session's umask;
 * under 077 (a hardened host, a cron job) they would be 0700 and the service could not reach its
 * restored data. They get 0755, as the system's own; what the stream holds keeps its backed-up
 * mode (--preserve-permissions) and owner.
 *
 * A directory's mode and time are set after everything is written (--delay-directory-restore):
 * GNU tar otherwise sets them when it meets an entry outside the directory, and the stream is not
 * in tree order: an incremental's unchanged files come after the newest archive's own entries,
 * and older --full and --incremental archives hold every directory before every file. A file
 * written into a directory already finished moved its time, or failed in a read-only one (0555,
 * restored by a step that is not root). bsdtar always sets them last, and knows no such option.
 */
export function extractCommand(versionLine: string): string {
  const delay = isGnuTar(versionLine) ? ' --delay-directory-restore' : '';
  return `umask 022 && tar --extract --file=- --preserve-permissions --same-owner${delay} --directory=/`;
}
