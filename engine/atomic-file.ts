import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes beside the final name (same directory, so the same filesystem) and renames: a reader never sees half a file. */
export async function writeFileAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
