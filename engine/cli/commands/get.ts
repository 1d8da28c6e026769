import { fetchBackup } from '../../catalog/fetch.js';
import { formatBytes } from '../../report/format.js';
import { ExitCode } from '../../errors.js';
import { backupSession, type CatalogOptions } from '../../app/catalog.js';
import type { Redactor } from '../../secrets/types.js';
import { objectProgress, showsResult } from '../../app/reporter.js';
import { interruptSignal } from '../../app/interrupt.js';
import { printJsonEvents } from '../../report/json-lines.js';

/** `lsbackup get <backup> <dest>`: download it (decrypted with --identity), atomically. */
export async function getCommand(spec: string, dest: string, options: CatalogOptions, redactor: Redactor): Promise<number> {
  const session = await backupSession(spec, options, redactor);
  const progress = await objectProgress('get', options.json, redactor, (await session.target.stat(session.name))?.size);
  // Ctrl-C / SIGTERM stop the download and remove its temp file.
  const interrupt = interruptSignal('stopping, removing the partial download');
  let result;
  try {
    result = await fetchBackup(session.target, session.name, dest, { ...session, signal: interrupt.signal }, progress.counter());
  } finally {
    interrupt.dispose();
    progress.close();
  }
  if (options.json)
    printJsonEvents(
      [{ type: 'get.result', file: result.file, bytes: result.bytes, decrypted: result.decrypted, sha256Checked: result.sha256Checked }],
      redactor,
    );
  // Under -q only a download whose digest could not be checked is told.
  else if (showsResult(!result.sha256Checked)) {
    const checked = result.sha256Checked ? 'sha256 matches the .sha256 sidecar' : 'NOT checked: no .sha256 sidecar';
    process.stdout.write(`${result.file} (${formatBytes(result.bytes)}${result.decrypted ? ', decrypted' : ''}; ${checked})\n`);
  }
  return ExitCode.ok;
}
