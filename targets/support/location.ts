/**
 * Where a target stores its backups, the same text for every way of writing it: a relative or
 * absolute path, a trailing slash, `file://`, a symbolic link to the directory; the store and
 * prefix or directory of S3 and Azure Files. Loads no SDK (config validation uses it).
 */
import { realpathSync } from 'node:fs';
import { directoryFromUri } from '../local.js';
import { nfsMountPath } from '../nfs.js';
import { azureFileStoreKey } from '../options/azure-file.js';
import { s3StoreKey } from '../options/s3.js';
import { schemeOf } from '../registry.js';

export function targetLocation(uri: string, options: Record<string, unknown> = {}): string {
  const endpoint = typeof options.endpoint === 'string' ? options.endpoint : undefined;
  switch (schemeOf(uri)) {
    case 's3':
      return s3StoreKey(uri, endpoint);
    case 'azfile':
      return azureFileStoreKey(uri, endpoint);
    case 'nfs':
      return realDirectory(nfsMountPath(uri));
    default:
      return realDirectory(directoryFromUri(uri)); // absolute: never a store's key
  }
}

function realDirectory(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir; // not there yet: its absolute path names it
  }
}

/** What is wrong with one target listed twice, for the messages that refuse it. */
export const TWICE_IN_ONE_PLACE = "a run would store its backup there twice, and one copy's retention would delete the archive the other reported stored";

/**
 * Entries of one list of targets that name one location, each with the first entry naming it.
 * A run stores a copy in each target: two entries of one place got two copies side by side, and
 * the retention of one deleted the archive the other had just reported stored.
 */
export function duplicateTargets(list: { uri: string; options?: Record<string, unknown> }[]): { first: number; second: number; location: string }[] {
  const seen = new Map<string, number>();
  const found: { first: number; second: number; location: string }[] = [];
  list.forEach((t, i) => {
    const location = targetLocation(t.uri, t.options);
    const first = seen.get(location);
    if (first === undefined) seen.set(location, i);
    else found.push({ first, second: i, location });
  });
  return found;
}
