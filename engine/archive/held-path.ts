import type { EntryRecord } from './types.js';

/**
 * The path under which the backup a reference names (`ref`) holds its bytes: the reference's
 * own path, or its `linkpath` when the holder keeps them under another name. That is an
 * unchanged hardlink whose target is no longer collected: the holder stored the target as the
 * file and this name only as a link to it.
 */
export function heldPath(record: EntryRecord): string {
  return record.ref !== undefined ? (record.linkpath ?? record.path) : record.path;
}
