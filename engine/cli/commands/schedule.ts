import { ExitCode, invalid, LsError, type Problem } from '../../errors.js';
import { findConfigFile } from '../../config/load.js';
import { runJob } from '../../jobs/run-job.js';
import { Scheduler, type ScheduleLog } from '../../schedule/scheduler.js';
import { loadRunConfig } from '../../app/config.js';
import { jobTargets, seedFromCatalog } from '../../app/metrics.js';
import { effectiveJobs } from '../../jobs/resolve.js';
import { recordFreeSpace, recordRun } from '../../metrics/record.js';
import { serveMetrics } from '../../metrics/server.js';
import { MetricsStore } from '../../metrics/store.js';
import { runReporter } from '../../app/reporter.js';
import type { Redactor } from '../../secrets/types.js';
import { printJsonEvents } from '../../report/json-lines.js';
import { visibleControls } from '../../report/format.js';

export interface ScheduleOptions {
  config?: string;
  json?: boolean;
  lockWait?: number;
  /** host:port to serve /metrics on. */
  metricsListen?: string;
}

/**
 * `lsbackup schedule`: runs every job on its cron until SIGTERM/SIGINT, following edits of the
 * config and recipes; SIGHUP reloads them (the daemon convention; the default action of SIGHUP
 * would kill the process with runs half done). The first SIGTERM/SIGINT stops firing, lets
 * running jobs run their post-steps and notifications, then exits; a second one exits at once.
 */
export async function scheduleCommand(options: ScheduleOptions, redactor: Redactor): Promise<number> {
  const file = findConfigFile(options.config);
  if (!file) throw new LsError('EUSAGE', { message: 'no config: pass --config <file>, or run where ./lsbackup.config.yaml exists' });
  const added: string[] = [];
  const log = (entry: ScheduleLog) => {
    if (options.json) printJsonEvents([entry], redactor);
    // A job's error may quote a host's stderr: shown, not sent to the terminal (as the run's own lines).
    else process.stderr.write(redactor.redact(`${new Date().toISOString()} ${visibleControls(describe(entry))}`) + '\n');
    // A job added by a reload gets its last-success figures from the catalog, as the jobs at start did.
    if (entry.type === 'schedule.job' && entry.change === 'added') added.push(entry.job);
    // A job taken out of the config: its series go too, or its last success aged into a
    // 'no recent success' alert (and a last failure alerted) for a job that no longer exists.
    if (entry.type === 'schedule.job' && entry.change === 'removed') metrics?.forgetJob(entry.job);
    if (entry.type === 'schedule.reload' && added.length > 0) seedMetrics?.(added.splice(0));
  };
  let seedMetrics: ((jobs?: string[]) => void) | undefined;
  // Shared by every job's run; each run masks its events with a redactor of its own (runJob).
  // -q/-v apply to every job's lines (engine/app/reporter.ts); jobs run at once, so no live view.
  const reporter = await runReporter(options.json, redactor, { live: false });
  const metrics = options.metricsListen ? new MetricsStore() : undefined;
  const server = metrics ? await serveMetrics(options.metricsListen!, metrics) : undefined;
  const scheduler = new Scheduler(
    file,
    async (config, job, recipes, { signal, skippedTicks }) => {
      const report = await runJob(config, job, { reporter, signal, recipes, skippedTicks, lockWaitSec: options.lockWait });
      if (metrics) {
        recordRun(metrics, report);
        await recordFreeSpace(metrics, await jobTargets(config, job, redactor));
      }
      return report;
    },
    log,
    redactor,
  );
  // Handled from the start to the exit: a SIGHUP must never kill the process with runs half done.
  const onHangup = () => void scheduler.reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  try {
    await scheduler.start();
  } catch (e) {
    const problems = (e as { problems?: Problem[] }).problems;
    if (problems) throw invalid('Config', problems);
    throw e;
  }
  if (metrics && server) {
    log({ type: 'schedule.metrics', url: server.url, message: `metrics at ${server.url}` });
    // In the background: a slow or unreachable target must not hold up the first runs.
    const note = (message: string) => log({ type: 'schedule.metrics', url: server.url, message });
    seedMetrics = (names) =>
      void loadRunConfig({ config: file })
        .then((config) =>
          seedFromCatalog(
            metrics,
            config,
            effectiveJobs(config).filter((j) => !names || names.includes(j.name)),
            redactor,
            note,
          ),
        )
        .catch((e: Error) => note(`metrics: catalog not read: ${e.message}`));
    seedMetrics();
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    // The second of either exits: a SIGINT after systemd's SIGTERM too (was: only the same signal again).
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      void scheduler.stop(`${sig} received`).then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await server?.close();
  reporter.close();
  return ExitCode.ok;
}

function describe(e: ScheduleLog): string {
  switch (e.type) {
    case 'schedule.start':
      return `scheduler started with ${e.file}: ${e.jobs.map((j) => `${j.name} (${j.schedule ?? 'no schedule'}${j.next ? `, next ${j.next}` : ''})`).join(', ')}`;
    case 'schedule.job':
      return e.message
        ? `${e.message}${e.next ? `, next ${e.next}` : ''}`
        : `job ${e.job} ${e.change}${e.schedule ? `: ${e.schedule}` : ''}${e.next ? `, next ${e.next}` : ''}`;
    case 'schedule.unscheduled':
    case 'schedule.queued':
    case 'schedule.skip':
    case 'schedule.stop':
    case 'schedule.metrics':
    case 'schedule.reload.pending':
      return e.message;
    case 'schedule.fire':
      return `job ${e.job}: starting`;
    case 'schedule.done':
      return `job ${e.job}: ${e.status}${e.archive ? ` -> ${e.archive}` : ''}${e.backupId ? ` (backup ${e.backupId})` : ''}${e.skippedTicks ? `, ${e.skippedTicks} tick(s) skipped while it ran` : ''}${e.error ? `: ${e.error}` : ''}`;
    case 'schedule.reload':
      return `configuration reloaded from ${e.file} (${e.trigger}): jobs ${e.jobs.join(', ')}`;
    case 'schedule.invalid':
      return `configuration change rejected (${e.message}):\n${e.problems.map((p) => `  ${p}`).join('\n')}`;
  }
}
