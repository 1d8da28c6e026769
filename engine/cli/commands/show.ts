import { backupDetails } from '../../catalog/show.js';
import { renderBackupDetails } from '../../catalog/render.js';
import { ExitCode } from '../../errors.js';
import { backupSession, type CatalogOptions } from '../catalog.js';

/** `lsbackup show <backup>`: its metadata as tables (components x hosts), or raw with --json. */
export async function showCommand(spec: string, options: CatalogOptions): Promise<number> {
  const session = await backupSession(spec, options);
  const { summary, metadata } = await backupDetails(session.target, session.name, session);
  process.stdout.write((options.json ? JSON.stringify(metadata, null, 2) : renderBackupDetails(summary, metadata)) + '\n');
  return ExitCode.ok;
}
