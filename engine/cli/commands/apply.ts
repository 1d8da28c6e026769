import { backupSettingsFromFlags, prepareBackup, type BackupFlags } from '../../app/backup.js';
import { loadRunConfig } from '../../app/config.js';
import { openCommandRun } from '../../app/context.js';
import { openMetricsTextfile, summaryKeeper } from '../../app/metrics.js';
import { isLsError } from '../../errors.js';
import type { RunOutcome } from '../../metrics/record.js';
import type { SummaryRow } from '../../report/events.js';
import type { Target } from '../../../targets/types.js';
import type { Redactor } from '../../secrets/types.js';

export interface ApplyOptions extends BackupFlags {
  /** node_exporter textfile to record this run in. */
  metricsTextfile?: string;
}

/** `lsbackup apply [recipes...] -b <build> -t <target>`: one backup of the cluster. Returns the exit code. */
export async function applyCommand(recipePaths: string[], options: ApplyOptions, redactor: Redactor): Promise<number> {
  const config = await loadRunConfig(options);
  const metrics = options.metricsTextfile ? await openMetricsTextfile(options.metricsTextfile) : undefined;
  const started = Date.now();
  let cluster = options.cluster ?? config.cluster;
  let targets: Target[] = [];
  const record = (status: RunOutcome['status'], bytes?: number, components: SummaryRow[] = []) =>
    metrics?.record({ cluster, status, durationMs: Date.now() - started, bytes, components }, targets);
  try {
    const backup = await prepareBackup(backupSettingsFromFlags(recipePaths, options, config), redactor);
    ({ cluster, targets } = backup);
    const run = await openCommandRun(options.json, redactor);
    const reporter = summaryKeeper(run.reporter);
    try {
      const result = await backup.run({ ...run, reporter });
      await record(result.status, result.bytes, reporter.summary());
      return result.exitCode;
    } finally {
      run.close();
    }
  } catch (e) {
    // A run that stopped on an expected error failed: the metrics say so before the error is printed.
    if (isLsError(e)) await record('failed');
    throw e;
  }
}
