import { listBackups, ofCluster } from '../../catalog/listing.js';
import { renderBackupList } from '../../catalog/render.js';
import { ExitCode } from '../../errors.js';
import { catalogSession, type CatalogOptions } from '../../app/catalog.js';
import type { Redactor } from '../../secrets/types.js';
import { printJsonEvents } from '../../report/json-lines.js';

/** `lsbackup list -t <target> [--cluster c]`: the backups a target holds, newest first (by the time in their metadata). */
export async function listCommand(options: CatalogOptions, redactor: Redactor): Promise<number> {
  const session = await catalogSession(options, redactor);
  const { cluster } = options;
  const backups = (await listBackups(session.target, session)).filter((b) => cluster === undefined || ofCluster(b, cluster));
  if (options.json) {
    // One line per backup (`time` is the line's own: the backup's is `startedAt`), then the count.
    const rows = backups.map(({ metadata: m, time, ...b }) => ({
      type: 'list.backup' as const,
      ...b,
      startedAt: time.toISOString(),
      ...(m ? { recordedCluster: m.cluster, kind: m.kind ?? 'full', ...(m.base ? { base: m.base.archive } : {}) } : {}),
    }));
    printJsonEvents([...rows, { type: 'list.end', count: rows.length }], redactor);
  } else {
    process.stdout.write(renderBackupList(backups) + '\n');
  }
  return ExitCode.ok;
}
