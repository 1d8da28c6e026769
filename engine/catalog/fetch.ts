/** `get`: download one backup to a local file, atomically (temp file beside it, then rename). */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AGE_SUFFIX } from '../archive/index.js';
import { assertWritableFile } from '../atomic-file.js';
import { isLsError, LsError } from '../errors.js';
import type { Target } from '../../targets/types.js';
import { counted, decrypted, isEncrypted, storedSha256, type DecryptOptions } from './objects.js';

export interface FetchResult {
  /** The file written. */
  file: string;
  bytes: number;
  decrypted: boolean;
  /** The stored bytes matched the `.sha256` sidecar; false: there was no sidecar to check them against. */
  sha256Checked: boolean;
}

/**
 * Writes `name` from the target to `dest` (a file path, or a directory to put it in: an existing one,
 * or one named with a trailing `/`, made when missing).
 * With identities an encrypted backup is decrypted on the way (and loses its `.age`); without,
 * the stored bytes are copied as they are. Nothing appears at the destination unless whole and,
 * when the archive has a `.sha256` sidecar, unless the stored bytes match it.
 */
/** `count` is told the size of each stored chunk as it comes (live progress). */
export async function fetchBackup(
  target: Target,
  name: string,
  dest: string,
  options: DecryptOptions & { signal?: AbortSignal } = {},
  count?: (bytes: number) => void,
): Promise<FetchResult> {
  const decrypt = isEncrypted(name) && (options.identities?.length ?? 0) > 0;
  const outName = decrypt ? name.slice(0, -AGE_SUFFIX.length) : name;
  if (namesDirectory(dest)) await makeDestinationDirectory(dest);
  const isDir = (await stat(dest).catch(() => undefined))?.isDirectory() ?? false;
  const file = path.resolve(isDir ? path.join(dest, outName) : dest);
  // Into a directory too: a file of the same name there may be another copy (or another backup stored under that name).
  if (await lstat(file).catch(() => undefined)) {
    throw new LsError('EUSAGE', { message: `${file} already exists; remove it or name another destination` });
  }
  // Before the download, not at its temp file: a usage error, not an unexpected one.
  await assertWritableFile(file, `destination ${dest}`);
  const temp = path.join(path.dirname(file), `.lsbackup-tmp-${randomBytes(6).toString('hex')}-${path.basename(file)}`);
  let received = 0;
  // The stored bytes (before any decryption) are hashed as they pass: no second read to check them.
  const expected = await storedSha256(target, name);
  const hash = createHash('sha256');
  try {
    const stored = counted(await target.get(name), count);
    stored.on('data', (chunk: Buffer) => hash.update(chunk));
    const source = decrypt ? await decrypted(stored, name, options) : stored;
    source.on('data', (chunk: Buffer) => (received += chunk.length));
    await pipeline(source, createWriteStream(temp, { flags: 'wx', mode: 0o600 }), { signal: options.signal });
    const sha256 = hash.digest('hex');
    if (expected !== undefined && sha256 !== expected) {
      throw new LsError('EARCHIVE', {
        archive: `${name} in ${target.uri}`,
        message: `the downloaded bytes have sha256 ${sha256}, its .sha256 sidecar says ${expected}: the stored archive (or the download) is damaged, and nothing was written to ${file}. Run 'lsbackup verify' on it`,
      });
    }
    await rename(temp, file);
  } catch (e) {
    // Also when interrupted: the temp file is hidden, maybe decrypted, and nothing else would ever remove it.
    await rm(temp, { force: true });
    if (options.signal?.aborted)
      throw new LsError('EINTERRUPTED', { signal: String(options.signal.reason), cleanedUp: 'the partial download was removed' }, { cause: e });
    if (isLsError(e) || isLocalFileError(e, temp, file)) throw e;
    // The stored object stopped coming (connection cut, object deleted or replaced meanwhile).
    throw new LsError(
      'ETARGET',
      {
        target: target.uri,
        message: `the download of ${name} broke off after ${received} bytes (${(e as Error).message}); nothing was written to ${file}. Was the backup deleted or replaced meanwhile (prune, another run)? Run 'lsbackup list' and try again`,
      },
      { cause: e },
    );
  }
  return { file, bytes: (await stat(file)).size, decrypted: decrypt, sha256Checked: expected !== undefined };
}

/** `restore-me/`: the operator means a directory, never a file called `restore-me`. */
function namesDirectory(dest: string): boolean {
  return dest.endsWith('/') || dest.endsWith(path.sep);
}

async function makeDestinationDirectory(dest: string): Promise<void> {
  await mkdir(dest, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new LsError('EUSAGE', { message: `destination ${dest}: cannot make that directory (${e.code ?? e.message}); name an existing directory or a file` });
  });
}

/** A failure of the local file we write (disk full, no permission): not the target's fault. */
function isLocalFileError(e: unknown, ...files: string[]): boolean {
  const path = (e as NodeJS.ErrnoException)?.path;
  return path !== undefined && files.includes(path);
}
