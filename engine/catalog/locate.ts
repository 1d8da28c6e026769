/**
 * The `<backup>` argument of show/verify/get: a name in the target (-t or the config's first),
 * `latest`, or the path/URI of one archive (`/backups/lsbackup-x-….tar.gz`,
 * `s3://bucket/prefix/lsbackup-x-….tar.gz`), whose directory is then the target.
 */
import { parseBackupName } from '../archive/index.js';
import { LsError } from '../errors.js';
import type { Target } from '../../targets/types.js';
import { listBackups } from './listing.js';

export interface BackupReference {
  /** The target URI taken from a path/URI argument, when it named one. */
  targetUri?: string;
  /** The archive name, or 'latest'. */
  name: string;
}

export function parseBackupReference(spec: string): BackupReference {
  const slash = spec.lastIndexOf('/');
  const name = slash >= 0 ? spec.slice(slash + 1) : spec;
  if (name !== 'latest' && !parseBackupName(name)) {
    throw new LsError('EUSAGE', {
      message: `'${spec}' does not name an lsbackup archive (lsbackup-<cluster>-<YYYYMMDDTHHMMSSZ>.tar.gz|.tar.zst|.zip[.age], or 'latest')`,
    });
  }
  if (slash < 0) return { name };
  const dir = spec.slice(0, slash);
  // "s3://bucket/x.tar.gz" -> "s3://bucket"; "/x.tar.gz" -> "/".
  return { name, targetUri: dir === '' ? '/' : dir.endsWith(':/') ? dir + '/' : dir };
}

/** 'latest' -> the newest backup's name; otherwise the name itself, after checking it exists. */
export async function resolveBackupName(target: Target, name: string): Promise<string> {
  if (name === 'latest') {
    const [newest] = await listBackups(target, { withMetadata: false });
    if (!newest) throw new LsError('ETARGET', { target: target.uri, message: 'holds no lsbackup archive' });
    return newest.name;
  }
  if (!(await target.stat(name))) throw new LsError('ETARGET', { target: target.uri, message: `has no backup named ${name} (see 'lsbackup list -t ${target.uri}')` });
  return name;
}
