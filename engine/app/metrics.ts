/**
 * Metrics wiring shared by the commands: `apply`/`run --metrics-textfile` record their run into
 * the textfile, `schedule --metrics-listen` records every job's run into the store it serves and
 * first rebuilds the last-success figures from the targets' catalogs (engine/metrics/).
 */
import type { Config, TargetConfig } from '../config/load.js';
import { listBackups } from '../catalog/listing.js';
import { parseIdentityFile } from '../crypto/identity-file.js';
import { isLsError } from '../errors.js';
import { jobLabels, recordFreeSpace, recordRun, recordSuccess, type RunOutcome } from '../metrics/record.js';
import type { MetricsStore } from '../metrics/store.js';
import { readTextfile, writeTextfile } from '../metrics/textfile.js';
import type { Reporter, SummaryRow } from '../report/events.js';
import type { Redactor } from '../secrets/types.js';
import type { Target } from '../../targets/types.js';
import { openConfiguredTargets } from './targets.js';

/** What the metrics need of a config job (engine/jobs/resolve.ts EffectiveJob has it). */
export interface MeteredJob {
  name: string;
  targets: TargetConfig[];
}

/** The textfile of a command's run; read before the run, so a file that is not ours stops it before anything happens. */
export async function openMetricsTextfile(file: string): Promise<{ record: (outcome: RunOutcome, targets: Target[]) => Promise<void> }> {
  const store = await readTextfile(file);
  return {
    record: async (outcome, targets) => {
      recordRun(store, outcome);
      await recordFreeSpace(store, targets);
      await writeTextfile(file, store);
    },
  };
}

/** A job's targets, opened to read their free space or catalog; none when they cannot be (the run reported why). */
export async function jobTargets(config: Config, job: MeteredJob, redactor: Redactor): Promise<Target[]> {
  try {
    return await openConfiguredTargets(job.targets, config, redactor);
  } catch (e) {
    if (isLsError(e)) return [];
    throw e;
  }
}

/** Passes events on and keeps the component × host rows of `run.end` (`apply` has no run report holding them). */
export function summaryKeeper(inner: Reporter): Reporter & { summary: () => SummaryRow[] } {
  let summary: SummaryRow[] = [];
  return {
    emit(event) {
      if (event.type === 'run.end') summary = event.summary;
      inner.emit(event);
    },
    progressIntervalMs: inner.progressIntervalMs,
    close: () => inner.close(),
    summary: () => summary,
  };
}

/**
 * After a scheduler (re)start: the newest two successful backups of each job, as its catalog
 * lists them, give the last-success time and sizes. A target that cannot be read leaves them unknown.
 */
export async function seedFromCatalog(store: MetricsStore, config: Config, jobs: MeteredJob[], redactor: Redactor, warn: (m: string) => void): Promise<void> {
  const identityFile = config.encryption?.identityFile;
  const identities = identityFile ? await parseIdentityFile(identityFile).catch(() => undefined) : undefined;
  for (const job of jobs) {
    const targets = await jobTargets(config, job, redactor);
    await recordFreeSpace(store, targets);
    for (const target of targets) {
      try {
        const backups = await listBackups(target, { identities });
        const successes = backups
          .filter((b) => b.job === job.name && b.status === 'success')
          .slice(0, 2)
          .reverse();
        for (const b of successes) {
          const finished = b.metadata?.finishedAt ? Date.parse(b.metadata.finishedAt) : b.time.getTime();
          recordSuccess(store, jobLabels(b.cluster, job.name), finished / 1000, b.size);
        }
      } catch (e) {
        if (!isLsError(e)) throw e;
        warn(`metrics: cannot read the catalog of ${target.uri} for job ${job.name}: ${e.message}`);
      }
    }
  }
}
