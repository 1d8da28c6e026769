import { fetchBackup } from '../../catalog/fetch.js';
import { formatBytes } from '../../report/format.js';
import { ExitCode } from '../../errors.js';
import { backupSession, type CatalogOptions } from '../../app/catalog.js';
import type { Redactor } from '../../secrets/types.js';
import { objectProgress } from '../../app/reporter.js';

/** `lsbackup get <backup> <dest>`: download it (decrypted with --identity), atomically. */
export async function getCommand(spec: string, dest: string, options: CatalogOptions, redactor: Redactor): Promise<number> {
  const session = await backupSession(spec, options, redactor);
  const progress = await objectProgress('get', options.json, redactor, (await session.target.stat(session.name))?.size);
  let result;
  try {
    result = await fetchBackup(session.target, session.name, dest, session, progress.counter());
  } finally {
    progress.close();
  }
  const line = { file: result.file, bytes: result.bytes, decrypted: result.decrypted };
  process.stdout.write(options.json ? JSON.stringify(line) + '\n' : `${result.file} (${formatBytes(result.bytes)}${result.decrypted ? ', decrypted' : ''})\n`);
  return ExitCode.ok;
}
