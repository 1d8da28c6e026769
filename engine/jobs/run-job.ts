import type { Config } from '../config/load.js';
import type { LoadedRecipe } from '../recipes/types.js';
import type { Reporter, RunEvent } from '../report/events.js';
import type { Target } from '../../targets/types.js';
import { createRedactor } from '../secrets/redactor.js';
import type { Redactor } from '../secrets/types.js';
import { ExitCode, isLsError } from '../errors.js';
import { prepareBackup } from '../app/backup.js';
import { backupSettingsFromJob, type JobOverrides } from './backup-settings.js';
import { maskFaultReportsWith } from '../app/process-guard.js';
import { createNotifier } from '../notify/notifier.js';
import type { EffectiveJob } from './resolve.js';
import { applyRetention, type RetentionRun } from './retention.js';
import { verifyCopies, verifyFailure } from './verify-copies.js';
import { loadTrustedKeys } from '../signing/index.js';
import { describe } from '../report/event-lines.js';
import { recordInReport } from '../report/report-recorder.js';

/** Lines of the run's log a failure notification carries (healthchecks shows them in the check's log). */
const LOG_TAIL_LINES = 40;
import { parseIdentityFile } from '../crypto/identity-file.js';
import type { RunReport, TargetReport } from './report.js';
import type { CompressMode } from '../runner/transport.js';

export interface RunJobOptions {
  reporter: Reporter;
  signal: AbortSignal;
  /** Recipes already loaded and validated (the scheduler keeps the last valid set); else loaded now. */
  recipes?: LoadedRecipe[];
  /** --compress of `lsbackup run`: wins over the job's `compress`. */
  compress?: CompressMode;
  /** --sign-key of `lsbackup run`: wins over the config's signing.key. */
  signKey?: string;
  /** --lock-wait: seconds to wait for another run holding the cluster or a target (wins over the job's `lockWait`). */
  lockWaitSec?: number;
  /** --known-hosts / --ssh-key of `lsbackup run`. */
  connection?: JobOverrides['connection'];
  /** --full of `lsbackup run`: a full backup whatever the job's `incremental` says. */
  full?: boolean;
  /** The scheduler's count of this job's ticks skipped while this run went on (in the report when > 0). */
  skippedTicks?: () => number;
  /** For tests: the first notification retry backoff. */
  notifyBackoffMs?: number;
}

/**
 * One job end to end: backup with a copy in every target, retention per stored copy, then the
 * notifications (start before, outcome after; they run in the background and are awaited only
 * up to their own timeouts). Never throws: the report says what happened, an unexpected error
 * (a bug) as a failed run whose stack is in a warning.
 */
export async function runJob(config: Config, job: EffectiveJob, options: RunJobOptions): Promise<RunReport> {
  // This run's own: the scheduler runs jobs side by side, and one job's secrets are no other's business.
  const redactor = createRedactor();
  const releaseGuard = maskFaultReportsWith(redactor);
  try {
    return await runJobWith(redactor, config, job, options);
  } finally {
    releaseGuard();
  }
}

async function runJobWith(redactor: Redactor, config: Config, job: EffectiveJob, options: RunJobOptions): Promise<RunReport> {
  const started = new Date();
  const report: RunReport = {
    job: job.name,
    cluster: job.cluster,
    status: 'running',
    startedAt: started.toISOString(),
    targets: [],
    components: [],
    warnings: [],
  };
  const logTail: string[] = [];
  const reporter = recordingReporter(options.reporter, report, redactor, logTail);
  const warn = (message: string) => reporter.emit({ type: 'warning', message });
  const notifier = createNotifier(job.notifications, { redactor, warn, backoffMs: options.notifyBackoffMs });
  try {
    const backup = await prepareBackup(backupSettingsFromJob(config, job, options), redactor);
    report.cluster = backup.cluster;
    // Once the job can start: one its set-up stopped (a key, a target's secret, the build dir gone) sends only its failure.
    notifier.notify('start', report);
    const result = await backup.run({ redactor, reporter, signal: options.signal });
    report.archive = result.archive;
    if (result.archive && result.metadata?.kind) report.kind = result.metadata.kind;
    report.bytes = result.bytes;
    report.sha256 = result.sha256;
    const identityFile = config.encryption?.identityFile;
    const identities = identityFile ? await parseIdentityFile(identityFile) : undefined;
    // Verified before retention: a damaged new copy must not make retention delete the older good ones.
    const copies = job.verify
      ? await verifyCopies(result.copies, backup.targets, { job: job.name, identities, trusted: await loadTrustedKeys(config.signing?.trusted ?? []), warn })
      : result.copies;
    report.targets = await retainPerTarget(job, report.cluster, backup.targets, copies, { identities, signal: options.signal, warn });
    const retentionFailed = report.targets.some((t) => t.retention && 'error' in t.retention);
    const damaged = report.targets.find((t) => t.verify?.ok === false);
    report.status = damaged ? 'failed' : result.status === 'success' && retentionFailed ? 'partial' : result.status;
    report.exitCode = report.status === 'success' ? ExitCode.ok : report.status === 'partial' ? ExitCode.partial : ExitCode.failed;
    if (damaged) report.error = redactor.redact(verifyFailure(damaged).message);
  } catch (e) {
    report.status = 'failed';
    report.exitCode = isLsError(e) ? e.exitCode : ExitCode.failed;
    // A bug's error may quote what this run knows: masked before anyone reads it. It is still a
    // failed run: notified and recorded as one (a scheduled job must not stop without an alert).
    report.error = redactor.redact(isLsError(e) ? e.message : `unexpected error (please report): ${(e as Error).message ?? String(e)}`);
    if (!isLsError(e)) warn(`unexpected error (please report): ${(e as Error).stack ?? String(e)}`);
  } finally {
    const finished = new Date();
    report.finishedAt = finished.toISOString();
    report.durationMs = finished.getTime() - started.getTime();
  }
  const skippedTicks = options.skippedTicks?.() ?? 0;
  if (skippedTicks > 0) report.skippedTicks = skippedTicks;
  if (report.error) logTail.push(report.error);
  notifier.notify(report.status === 'success' ? 'success' : report.status === 'partial' ? 'partial' : 'failure', report, { logTail });
  // Stopping (SIGTERM/SIGINT/SIGHUP): no more retries, and the wait is said out loud.
  await notifier.settle({ stopping: options.signal.aborted });
  return redactor.redactValue(report);
}

/**
 * Retention runs only where this run's copy was stored (a target that just failed, or whose copy
 * did not verify, is left alone), on this job's backups of this cluster.
 */
async function retainPerTarget(job: EffectiveJob, cluster: string, targets: Target[], copies: TargetReport[], run: RetentionRun): Promise<TargetReport[]> {
  const { warn } = run;
  return Promise.all(
    copies.map(async (copy): Promise<TargetReport> => {
      if (!copy.name || copy.verify?.ok === false) return { ...copy };
      const target = targets.find((t) => t.uri === copy.target)!;
      try {
        // With the identity, encrypted metadata is read and the newest *successful* backup is kept.
        const owner = { cluster, job: job.name };
        const outcome = await applyRetention(target, job.retention, owner, run);
        const unreadable = outcome?.unreadable ?? [];
        if (unreadable.length > 0) {
          warn(
            `retention in ${copy.target} kept ${unreadable.length} backup(s) whose metadata it could not read: ${unreadable.slice(0, 3).join(', ')}${unreadable.length > 3 ? ', …' : ''}`,
          );
        }
        const afterClock = outcome?.afterClock ?? [];
        if (afterClock.length > 0) {
          warn(
            `retention in ${copy.target} kept ${afterClock.length} backup(s) dated after this run's clock (${new Date().toISOString()}) and left them out of its rules: ` +
              `${afterClock.slice(0, 3).join(', ')}${afterClock.length > 3 ? ', …' : ''}; if this machine's clock is wrong, set it right (its backups are named with the wrong time)`,
          );
        }
        return outcome ? { ...copy, retention: outcome } : { ...copy };
      } catch (e) {
        if (!isLsError(e)) throw e;
        warn(e.message);
        return { ...copy, retention: { error: e.message } };
      }
    }),
  );
}

/**
 * Passes events on, each tagged with the job, the cluster and (once known) the backup id so the lines of
 * jobs running at once can be told apart, and keeps the end summary (component × host). The
 * reporter may be shared by several jobs (the scheduler's): events are masked with this run's
 * redactor before they reach it.
 */
function recordingReporter(inner: Reporter, report: RunReport, redactor: Redactor, logTail: string[]): Reporter {
  return {
    emit(event: RunEvent) {
      recordInReport(report, event);
      // The plain log's lines, the last few kept for the failure notifications (what went wrong, in context).
      const line = event.type === 'progress' ? undefined : describe(event);
      if (line !== undefined && logTail.push(redactor.redact(line)) > LOG_TAIL_LINES) logTail.shift();
      // The event's own cluster (run.start) wins; the job's until then.
      const source = { job: report.job, ...(report.backupId ? { backupId: report.backupId } : {}) };
      inner.emit(redactor.redactValue({ ...(report.cluster ? { cluster: report.cluster } : {}), ...event, ...source }));
    },
    progressIntervalMs: inner.progressIntervalMs,
    close: () => inner.close(),
  };
}
