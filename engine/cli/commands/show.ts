import { backupDetails } from '../../catalog/show.js';
import { renderBackupDetails } from '../../catalog/render.js';
import { ExitCode } from '../../errors.js';
import { backupSession, type CatalogOptions } from '../../app/catalog.js';
import type { Redactor } from '../../secrets/types.js';

/** `lsbackup show <backup>`: its metadata as tables (components x hosts), or raw with --json. */
export async function showCommand(spec: string, options: CatalogOptions, redactor: Redactor): Promise<number> {
  const session = await backupSession(spec, options, redactor);
  const { summary, metadata } = await backupDetails(session.target, session.name, session);
  process.stdout.write((options.json ? JSON.stringify(metadata, null, 2) : renderBackupDetails(summary, metadata)) + '\n');
  return ExitCode.ok;
}
