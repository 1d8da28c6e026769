import { backupSettingsFromFlags, prepareBackup, type BackupFlags } from '../../app/backup.js';
import { loadRunConfig } from '../../app/config.js';
import { openCommandRun } from '../../app/context.js';
import type { Redactor } from '../../secrets/types.js';

export type ApplyOptions = BackupFlags;

/** `lsbackup apply [recipes...] -b <build> -t <target>`: one backup of the cluster. Returns the exit code. */
export async function applyCommand(recipePaths: string[], options: ApplyOptions, redactor: Redactor): Promise<number> {
  const config = await loadRunConfig(options);
  const backup = await prepareBackup(backupSettingsFromFlags(recipePaths, options, config), redactor);
  const run = await openCommandRun(options.json, redactor);
  try {
    return (await backup.run(run)).exitCode;
  } finally {
    run.close();
  }
}
