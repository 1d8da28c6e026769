import { constants, renameSync, rmSync, writeFileSync } from 'node:fs';
import { access, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LsError } from './errors.js';

/** Beside the final name: the same directory, so the same filesystem, and rename is atomic. */
const temporaryName = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);

/** Writes beside the final name and renames: a reader never sees half a file. */
export async function writeFileAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = temporaryName(file);
  try {
    await writeFile(tmp, text, { mode });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The same, synchronously: for an exit handler, where nothing asynchronous runs any more. */
export function writeFileAtomicallySync(file: string, data: string | Uint8Array, mode: number): void {
  const tmp = temporaryName(file);
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * A usage error naming the flag unless `file`'s directory can take it: checked before a run, so
 * a backup does not run only to find its metrics or report cannot be written.
 */
export async function assertWritableDirectory(file: string, flag: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await access(dir, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
    throw new LsError('EUSAGE', { message: `${flag}: directory ${dir} is not writable (${e.code ?? e.message}); create it or name another file` });
  });
}
