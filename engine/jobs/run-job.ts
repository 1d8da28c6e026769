import type { Config } from '../config/load.js';
import type { LoadedRecipe } from '../recipes/types.js';
import type { Reporter, RunEvent } from '../report/events.js';
import { runBackup, type BackupResult } from '../runner/backup.js';
import type { Target } from '../../targets/types.js';
import { openConfiguredTargets } from '../cli/targets.js';
import { redactor } from '../secrets/index.js';
import { ExitCode, isLsError } from '../errors.js';
import { withRunLocks, sessionExecutorFactory, clusterName, loadSessionInventory, loadSessionRecipes, resolveRunningRecipeSecrets, loadSessionProfile, sessionVarOverrides } from '../cli/session.js';
import { createNotifier } from '../notify/notifier.js';
import type { EffectiveJob } from './resolve.js';
import { applyRetention } from './retention.js';
import { parseIdentityFile } from '../crypto/identity-file.js';
import type { RunReport, TargetReport } from './report.js';
import type { CompressMode } from '../runner/transport.js';
import { loadSigner } from '../signing/index.js';

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
  /** The scheduler's count of this job's ticks skipped while this run went on (in the report when > 0). */
  skippedTicks?: () => number;
  /** For tests: the first notification retry backoff. */
  notifyBackoffMs?: number;
}

/**
 * One job end to end: backup with a copy in every target, retention per stored copy, then the
 * notifications (start before, outcome after; they run in the background and are awaited only
 * up to their own timeouts). Never throws for an expected failure: the report says what happened.
 */
export async function runJob(config: Config, job: EffectiveJob, options: RunJobOptions): Promise<RunReport> {
  const started = new Date();
  const report: RunReport = { job: job.name, cluster: job.cluster, status: 'running', startedAt: started.toISOString(), targets: [], components: [], warnings: [] };
  const reporter = recordingReporter(options.reporter, report);
  const warn = (message: string) => reporter.emit({ type: 'warning', message });
  const notifier = createNotifier(job.notifications, { redactor, warn, backoffMs: options.notifyBackoffMs });
  notifier.notify('start', report);
  try {
    const jobConfig: Config = { ...config, components: job.components };
    const targets = await openConfiguredTargets(job.targets, jobConfig);
    const result = await backup(jobConfig, job, targets, reporter, options, report);
    report.archive = result.archive;
    report.bytes = result.bytes;
    report.sha256 = result.sha256;
    report.targets = await retainPerTarget(config, job, report.cluster!, targets, result, warn);
    const retentionFailed = report.targets.some((t) => t.retention && 'error' in t.retention);
    report.status = result.status === 'success' && retentionFailed ? 'partial' : result.status;
    report.exitCode = report.status === 'success' ? ExitCode.ok : report.status === 'partial' ? ExitCode.partial : ExitCode.failed;
  } catch (e) {
    if (!isLsError(e)) throw e;
    report.status = 'failed';
    report.exitCode = e.exitCode;
    report.error = redactor.redact(e.message);
  } finally {
    const finished = new Date();
    report.finishedAt = finished.toISOString();
    report.durationMs = finished.getTime() - started.getTime();
  }
  const skippedTicks = options.skippedTicks?.() ?? 0;
  if (skippedTicks > 0) report.skippedTicks = skippedTicks;
  notifier.notify(report.status === 'success' ? 'success' : report.status === 'partial' ? 'partial' : 'failure', report);
  // Stopping (SIGTERM/SIGINT/SIGHUP): no more retries, and the wait is said out loud.
  await notifier.settle({ stopping: options.signal.aborted });
  return redactor.redactValue(report);
}

async function backup(jobConfig: Config, job: EffectiveJob, targets: Target[], reporter: Reporter, options: RunJobOptions, report: RunReport): Promise<BackupResult> {
  const signKey = options.signKey ?? jobConfig.signing?.key;
  const signer = signKey ? await loadSigner(signKey) : undefined; // before any host is contacted
  const recipes = options.recipes ?? (await loadSessionRecipes(job.recipes ?? [], jobConfig));
  const inventory = await loadSessionInventory({ build: job.build }, jobConfig);
  const profile = await loadSessionProfile(inventory);
  const secrets = await resolveRunningRecipeSecrets(recipes, inventory, job.components, jobConfig, profile);
  report.cluster = clusterName({ cluster: job.cluster }, jobConfig, inventory);
  const cluster = report.cluster;
  // The same locks as `apply`: a scheduled run never collides with another run of the cluster or target.
  const lockWaitSec = options.lockWaitSec ?? job.lockWait;
  return withRunLocks({ cluster, inventory, targets, lockWaitSec, reporter }, async () => runBackup({
    recipes,
    inventory,
    targets,
    cluster,
    job: job.name,
    format: job.format,
    compress: options.compress ?? job.compress,
    concurrency: job.concurrency,
    defaultStepTimeoutSec: job.stepTimeout,
    only: job.components.only,
    skip: job.components.skip,
    varOverrides: sessionVarOverrides(jobConfig, undefined, recipes),
    secrets: secrets.values,
    missingSecrets: secrets.missing,
    profileVars: profile?.vars,
    executorFactory: await sessionExecutorFactory(inventory, reporter),
    reporter,
    redactor,
    signal: options.signal,
    encryption: { recipients: jobConfig.encryption?.recipients ?? [], plainMetadata: jobConfig.encryption?.plainMetadata ?? false },
    signer,
  }));
}

/** Retention runs only where this run's copy was stored (a target that just failed is left alone), on this job's backups of this cluster. */
async function retainPerTarget(
  config: Config,
  job: EffectiveJob,
  cluster: string,
  targets: Target[],
  result: BackupResult,
  warn: (m: string) => void,
): Promise<TargetReport[]> {
  return Promise.all(
    result.copies.map(async (copy): Promise<TargetReport> => {
      if (!copy.name) return { ...copy };
      const target = targets.find((t) => t.uri === copy.target)!;
      try {
        // With the identity, encrypted metadata is read and the newest *successful* backup is kept.
        const identityFile = config.encryption?.identityFile;
        const owner = { cluster, job: job.name };
        const outcome = await applyRetention(target, job.retention, owner, identityFile ? await parseIdentityFile(identityFile) : undefined);
        const unreadable = outcome?.unreadable ?? [];
        if (unreadable.length > 0) {
          warn(`retention in ${copy.target} kept ${unreadable.length} backup(s) whose metadata it could not read: ${unreadable.slice(0, 3).join(', ')}${unreadable.length > 3 ? ', …' : ''}`);
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
 * Passes events on, each tagged with the job and (once known) the backup id so the lines of
 * jobs running at once can be told apart, and keeps the end summary (component × host).
 */
function recordingReporter(inner: Reporter, report: RunReport): Reporter {
  return {
    emit(event: RunEvent) {
      if (event.type === 'run.start') report.backupId = event.backupId;
      if (event.type === 'run.end') report.components = event.summary;
      if (event.type === 'warning') report.warnings.push(event.message);
      inner.emit({ ...event, job: report.job, ...(report.backupId ? { backupId: report.backupId } : {}) });
    },
    close: () => inner.close(),
  };
}
