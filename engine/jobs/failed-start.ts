/**
 * `run` that stopped before its job started (the config no longer loads, a secret it needs is
 * gone, the job was renamed, the metrics or report file cannot be written) failed all the same.
 * A timer runs it unattended: the failure goes where a started run's would, as far as what was
 * read allows — the job's notifications, the --metrics-textfile, the --report file — and what
 * could not be told is said, so the operator knows which alert will not come.
 */
import type { Config } from '../config/load.js';
import type { LsError } from '../errors.js';
import type { EffectiveJob } from './resolve.js';
import { createNotifier } from '../notify/notifier.js';
import type { RunReport } from '../report/run-report.js';
import type { Redactor } from '../secrets/types.js';
import { openMetricsTextfile } from '../app/metrics.js';
import { openReportFile, type ReportFlags } from '../app/report-file.js';

/** The set-up step `run` stopped at: the file it could not open is not written to again. */
export type StartStep = 'config' | 'job' | 'metrics' | 'report';

export interface FailedStart {
  step: StartStep;
  error: LsError;
  /** What was read before it stopped. */
  config?: Config;
  job?: EffectiveJob;
}

export interface FailedStartOptions extends ReportFlags {
  job?: string;
  metricsTextfile?: string;
}

/**
 * Tells the failed start to everything that can be told; returns what could not be, as one
 * sentence for stderr ("job nightly could not start, and was not notified: …"), or undefined.
 * Never throws: the error that stopped the run is what is printed.
 */
export async function recordFailedStart(
  options: FailedStartOptions,
  start: FailedStart,
  redactor: Redactor,
  warn: (m: string) => void,
): Promise<string | undefined> {
  const jobName = start.job?.name ?? options.job;
  const now = new Date().toISOString();
  const report: RunReport = {
    job: jobName ?? '',
    // Unknown when the config did not load: the metrics take the job's earlier cluster (engine/metrics/record.ts).
    ...(start.job?.cluster ? { cluster: start.job.cluster } : {}),
    status: 'failed',
    exitCode: start.error.exitCode,
    error: redactor.redact(start.error.message),
    startedAt: now,
    finishedAt: now,
    durationMs: 0,
    targets: [],
    components: [],
    warnings: [],
  };
  const untold: string[] = [];
  const note = (what: string) => (e: unknown) => void untold.push(`${what}: ${redactor.redact((e as Error).message)}`);

  if (start.job) {
    const notifier = createNotifier(start.job.notifications, { redactor, warn });
    notifier.notify('failure', report, { logTail: [report.error!] });
    await notifier.settle();
  } else if (start.config) untold.push(`not notified: ${jobName ? `the config has no job '${jobName}'` : 'which job was meant is not known'}`);
  else untold.push('not notified: the notifications are in the config, which did not load');

  const textfile = options.metricsTextfile;
  if (textfile && start.step === 'metrics') untold.push(`not recorded in --metrics-textfile ${textfile}: it is what failed`);
  else if (textfile && !jobName) untold.push(`not recorded in --metrics-textfile ${textfile}: which job was meant is not known (pass --job)`);
  else if (textfile)
    await openMetricsTextfile(textfile)
      .then((m) => m.record(report, []))
      .catch(note(`not recorded in --metrics-textfile ${textfile}`));

  if (options.report && start.step === 'report') untold.push(`not written to --report ${options.report}: it is what failed`);
  else if (options.report) {
    const file = await openReportFile(options, undefined).catch(note(`not written to --report ${options.report}`));
    await file?.write(report, []).catch(note(`not written to --report ${options.report}`));
  }
  if (untold.length === 0) return undefined;
  return `${jobName ? `job ${jobName}` : 'the run'} could not start, and was ${untold.join('; ')}`;
}
