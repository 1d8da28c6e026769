import { listBackups } from '../../catalog/listing.js';
import { renderBackupList } from '../../catalog/render.js';
import { ExitCode } from '../../errors.js';
import { catalogSession, type CatalogOptions } from '../catalog.js';

/** `lsbackup list -t <target>`: the backups a target holds, newest first. */
export async function listCommand(options: CatalogOptions): Promise<number> {
  const session = await catalogSession(options);
  const backups = await listBackups(session.target, session);
  if (options.json) {
    const rows = backups.map(({ metadata: _m, ...b }) => ({ ...b, time: b.time.toISOString() }));
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  } else {
    process.stdout.write(renderBackupList(backups) + '\n');
  }
  return ExitCode.ok;
}
