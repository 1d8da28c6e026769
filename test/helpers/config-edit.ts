import { readFile, writeFile } from 'node:fs/promises';
import type { Cluster } from './cluster.js';

/**
 * A backup whose configuration file holds an edit the running service never read: `addition` is
 * appended to `file` on disk for the backup, and the file is put back as it was afterwards, so
 * what a restore puts back differs from the configuration the service runs with.
 */
export async function backupWithUnreadEdit(cluster: Cluster, recipe: string, file: string, addition: string): Promise<{ archive: string; config: string }> {
  const config = await readFile(file, 'utf8');
  await writeFile(file, config + addition);
  const archive = await cluster.backup(recipe);
  await writeFile(file, config);
  return { archive, config };
}
