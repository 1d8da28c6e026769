import { verifyBackup } from '../../catalog/verify.js';
import { renderVerify } from '../../catalog/render.js';
import { ExitCode } from '../../errors.js';
import { backupSession, type CatalogOptions } from '../catalog.js';

/** `lsbackup verify <backup>`: exit 0 when intact, 1 naming every bad entry otherwise. */
export async function verifyCommand(spec: string, options: CatalogOptions): Promise<number> {
  const session = await backupSession(spec, options);
  const report = await verifyBackup(session.target, session.name, session);
  process.stdout.write((options.json ? JSON.stringify(report, null, 2) : renderVerify(report)) + '\n');
  return report.ok ? ExitCode.ok : ExitCode.failed;
}
