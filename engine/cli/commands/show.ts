import { backupDetails } from '../../catalog/show.js';
import { renderBackupDetails } from '../../catalog/render.js';
import { ExitCode } from '../../errors.js';
import { backupSession, type CatalogOptions } from '../../app/catalog.js';
import type { Redactor } from '../../secrets/types.js';
import { printJsonEvents } from '../../report/json-lines.js';

/** `lsbackup show <backup>`: its metadata as tables (components x hosts), or metadata.json as is in a `show.backup` event with --json. */
export async function showCommand(spec: string, options: CatalogOptions, redactor: Redactor): Promise<number> {
  const session = await backupSession(spec, options, redactor);
  const { summary, metadata, madeAs } = await backupDetails(session.target, session.name, session);
  if (options.json)
    printJsonEvents(
      [
        {
          type: 'show.backup',
          name: session.name,
          ...(summary.damaged ? { damaged: summary.damaged } : {}),
          ...(madeAs ? { madeAs: madeAs.backup } : {}),
          metadata: { ...metadata },
        },
      ],
      redactor,
    );
  else process.stdout.write(renderBackupDetails(summary, metadata, madeAs) + '\n');
  return ExitCode.ok;
}
