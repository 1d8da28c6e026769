import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { access, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { LsError } from './errors.js';

/** Beside the final name: the same directory, so the same filesystem, and rename is atomic. */
const temporaryName = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);

/** Flushes a file's (or a directory's entries') data to the disk: what a power loss cannot undo. */
export async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes beside the final name, flushes it to the disk, renames, then flushes the directory: a
 * reader never sees half a file, and after a power loss the name holds the old file or the new
 * one, never an empty one (the rename can reach the disk before the data otherwise).
 */
export async function writeFileAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = temporaryName(file);
  try {
    const handle = await open(tmp, 'w', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(path.dirname(file));
}

/** The same, synchronously: for an exit handler, where nothing asynchronous runs any more. */
export function writeFileAtomicallySync(file: string, data: string | Uint8Array, mode: number): void {
  const tmp = temporaryName(file);
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * A usage error naming the flag unless `file` can be written there: its directory takes it and
 * it is not itself a directory (a rename cannot replace one). Checked before a run, so a backup
 * does not run only to find its metrics or report cannot be written.
 */
export async function assertWritableFile(file: string, flag: string): Promise<void> {
  const resolved = path.resolve(file);
  const dir = path.dirname(resolved);
  await access(dir, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
    throw new LsError('EUSAGE', { message: `${flag}: directory ${dir} is not writable (${e.code ?? e.message}); create it or name another file` });
  });
  if ((await stat(resolved).catch(() => undefined))?.isDirectory()) {
    throw new LsError('EUSAGE', { message: `${flag}: ${resolved} is a directory; name a file (in it, or elsewhere)` });
  }
}
