/**
 * An incremental records the sha256 of its base as stored (`base.sha256`, docs/incremental.md).
 * Both `verify` and `restore` hold every member of a chain to it, whatever the member's own
 * `.sha256` sidecar says: a sidecar can be missing (an archive fetched without it) or replaced
 * along with the archive, and an encrypted archive's authentication proves only that someone
 * with the public recipient wrote it. Owners, modes and times of unchanged files come from the
 * member's headers, so a member that is not the one its child recorded restores nothing.
 */
import type { BackupMetadata } from '../archive/index.js';

/** Why the member read is not the base `child` recorded, or undefined when it is. `storedSha256`: of its stored bytes (the ciphertext when encrypted). */
export function baseMismatch(base: NonNullable<BackupMetadata['base']>, child: string, storedSha256: string): string | undefined {
  if (storedSha256 === base.sha256) return undefined;
  return `${base.archive} has sha256 ${storedSha256}, but ${child} was based on an archive with sha256 ${base.sha256}: the base was replaced or damaged`;
}

/** What verify notes of a chain member without a `.sha256` sidecar whose stored bytes are the ones its child recorded. */
export function vouchedFor(member: string, child: string): string {
  return `${member} has no .sha256 sidecar: its stored bytes were checked against the sha256 ${child} recorded of its base, and match`;
}
