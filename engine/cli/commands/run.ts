import { isLsError, LsError } from '../../errors.js';
import { selectJob, type EffectiveJob } from '../../jobs/resolve.js';
import { runJob } from '../../jobs/run-job.js';
import { findConfigFile } from '../../config/load.js';
import { loadRunConfig } from '../../app/config.js';
import { openCommandRun } from '../../app/context.js';
import { jobTargets, openMetricsTextfile } from '../../app/metrics.js';
import { openReportFile, type ReportFlags } from '../../app/report-file.js';
import { recordFailedStart, type StartStep } from '../../jobs/failed-start.js';
import { writeRunOutputs } from '../../app/run-outputs.js';
import type { Config } from '../../config/load.js';
import type { Redactor } from '../../secrets/types.js';
import type { CompressMode } from '../../runner/transport.js';
import { printJsonEvents } from '../../report/json-lines.js';
import { jobOutcomeLine } from '../../report/event-lines.js';
import { visibleControls } from '../../report/format.js';
import type { RunReport } from '../../report/run-report.js';

export interface RunOptions extends ReportFlags {
  config?: string;
  job?: string;
  json?: boolean;
  compress?: CompressMode;
  signKey?: string;
  lockWait?: number;
  /** node_exporter textfile to record this run in. */
  metricsTextfile?: string;
  knownHosts?: string;
  sshKey?: string;
  /** A full backup now, whatever the job's `incremental` says. */
  full?: boolean;
}

/** `lsbackup run [--job name]`: one job of the config end to end — the command CI calls. */
export async function runCommand(options: RunOptions, redactor: Redactor): Promise<number> {
  if (!findConfigFile(options.config)) {
    throw new LsError('EUSAGE', { message: 'no config: pass --config <file>, or run where ./lsbackup.config.yaml exists' });
  }
  const { config, job, metrics, reportFile } = await setUp(options, redactor);
  // The job masks its own secrets (runJob keeps a redactor per run); this one is the command's.
  const run = await openCommandRun(options.json, redactor);
  let report: RunReport;
  try {
    report = await runJob(config, job, {
      reporter: run.reporter,
      signal: run.signal,
      compress: options.compress,
      signKey: options.signKey,
      lockWaitSec: options.lockWait,
      full: options.full,
      connection: { knownHosts: options.knownHosts, sshKey: options.sshKey },
    });
    const targets = metrics || reportFile ? await jobTargets(config, job, redactor) : [];
    await writeRunOutputs([metrics?.record(report, targets), reportFile?.write(report, targets)]);
  } finally {
    run.close();
  }
  // After the run's events are out (close flushes them): the report is the last line.
  if (options.json) {
    const source = { job: report.job, ...(report.cluster ? { cluster: report.cluster } : {}), ...(report.backupId ? { backupId: report.backupId } : {}) };
    printJsonEvents([{ type: 'job.end', ...source, report }], redactor);
  } else {
    const outcome = jobOutcomeLine(report);
    if (outcome) process.stdout.write(redactor.redact(outcome) + '\n');
    if (report.error) process.stderr.write(visibleControls(`lsbackup: job ${job.name}: ${report.error}\n`));
  }
  return report.exitCode ?? 1;
}

/**
 * The config, the job and the output files. A run that stops here (a secret the config needs is
 * no longer passed, the job was renamed) failed too: its notifications, --metrics-textfile and
 * --report say so as far as they can be read (engine/jobs/failed-start.ts), or they went on
 * saying the last run's success to whatever reads them (deploy/systemd/lsbackup.service's).
 */
async function setUp(options: RunOptions, redactor: Redactor) {
  const read: { step: StartStep; config?: Config; job?: EffectiveJob } = { step: 'config' };
  try {
    const config = (read.config = await loadRunConfig(options));
    read.step = 'job';
    const job = (read.job = selectJob(config, options.job));
    read.step = 'metrics';
    const metrics = options.metricsTextfile ? await openMetricsTextfile(options.metricsTextfile) : undefined;
    read.step = 'report';
    const reportFile = await openReportFile(options, config.encryption?.identityFile);
    return { config, job, metrics, reportFile };
  } catch (e) {
    if (isLsError(e)) {
      const warn = (m: string) => process.stderr.write(`warning: ${redactor.redact(m)}\n`);
      const untold = await recordFailedStart(options, { ...read, error: e }, redactor, warn);
      if (untold) process.stderr.write(visibleControls(`lsbackup: ${untold}\n`));
    }
    throw e;
  }
}
