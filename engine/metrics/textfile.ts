import { readFile } from 'node:fs/promises';
import { assertWritableFile, writeFileAtomically } from '../atomic-file.js';
import { LsError } from '../errors.js';
import { MetricsStore } from './store.js';

/**
 * The state of a textfile (node_exporter's textfile collector): the file of the last run, so
 * counters keep counting and a failed run leaves the last success where it was. A missing file
 * starts empty; one that is not in the text format, or a directory that cannot take it, is an
 * error before the run (it is not ours to overwrite).
 */
export async function readTextfile(file: string): Promise<MetricsStore> {
  await assertWritableFile(file, `--metrics-textfile ${file}`);
  const store = new MetricsStore();
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw e;
  });
  try {
    store.load(text);
  } catch (e) {
    throw new LsError('EUSAGE', {
      message: `--metrics-textfile ${file}: ${(e as Error).message}; it is not a metrics file lsbackup wrote: name another file or remove this one`,
    });
  }
  return store;
}

/** Readable by node_exporter (no secrets in it), replaced atomically: a scrape never sees half a file. */
export function writeTextfile(file: string, store: MetricsStore): Promise<void> {
  return writeFileAtomically(file, store.render(), 0o644);
}
