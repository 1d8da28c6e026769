import { backupSettingsFromFlags, prepareBackup, type BackupFlags } from '../../app/backup.js';
import { loadRunConfig } from '../../app/config.js';
import { openCommandRun } from '../../app/context.js';
import { openMetricsTextfile } from '../../app/metrics.js';
import { openReportFile, type ReportFlags } from '../../app/report-file.js';
import { writeRunOutputs } from '../../app/run-outputs.js';
import { isLsError } from '../../errors.js';
import { reportRecorder } from '../../report/report-recorder.js';
import type { RunReport } from '../../report/run-report.js';
import type { Target } from '../../../targets/types.js';
import type { Redactor } from '../../secrets/types.js';

export interface ApplyOptions extends BackupFlags, ReportFlags {
  /** node_exporter textfile to record this run in. */
  metricsTextfile?: string;
}

/** `lsbackup apply [recipes...] -b <build> -t <target>`: one backup of the cluster. Returns the exit code. */
export async function applyCommand(recipePaths: string[], options: ApplyOptions, redactor: Redactor): Promise<number> {
  const config = await loadRunConfig(options);
  const metrics = options.metricsTextfile ? await openMetricsTextfile(options.metricsTextfile) : undefined;
  const reportFile = await openReportFile(options, config.encryption?.identityFile);
  const started = new Date();
  // `apply` runs no config job; its report and metrics say `apply` (as the metrics' job label does).
  const report: RunReport = {
    job: 'apply',
    cluster: options.cluster ?? config.cluster,
    status: 'running',
    startedAt: started.toISOString(),
    targets: [],
    components: [],
    warnings: [],
  };
  let targets: Target[] = [];
  /** The outcome, in the metrics and the report file, before the command returns or its error is printed. */
  const finish = async (outcome: Pick<RunReport, 'status' | 'exitCode' | 'error'>) => {
    Object.assign(report, outcome, { finishedAt: new Date().toISOString(), durationMs: Date.now() - started.getTime() });
    await writeRunOutputs([metrics?.record(report, targets), reportFile?.write(redactor.redactValue(report), targets)]);
  };
  let exitCode: number;
  try {
    const backup = await prepareBackup(backupSettingsFromFlags(recipePaths, options, config), redactor);
    ({ cluster: report.cluster, targets } = backup);
    const run = await openCommandRun(options.json, redactor);
    try {
      const result = await backup.run({ ...run, reporter: reportRecorder(run.reporter, report) });
      Object.assign(report, { status: result.status, archive: result.archive, bytes: result.bytes, sha256: result.sha256, targets: result.copies });
      if (result.archive && result.metadata?.kind) report.kind = result.metadata.kind;
      exitCode = result.exitCode;
    } finally {
      run.close();
    }
  } catch (e) {
    // A run that stopped on an expected error failed: the metrics and the report say so before the error is printed.
    if (isLsError(e)) await finish({ status: 'failed', exitCode: e.exitCode, error: redactor.redact(e.message) });
    throw e;
  }
  await finish({ status: report.status, exitCode });
  return exitCode;
}
