/**
 * Metrics wiring shared by the commands: `apply`/`run --metrics-textfile` record their run into
 * the textfile, `schedule --metrics-listen` records every job's run into the store it serves and
 * first rebuilds the last-success figures from the targets' catalogs (engine/metrics/).
 */
import path from 'node:path';
import type { Config, TargetConfig } from '../config/load.js';
import { listBackups } from '../catalog/listing.js';
import { newestFirst } from '../catalog/order.js';
import { parseIdentityFile } from '../crypto/identity-file.js';
import { isLsError } from '../errors.js';
import { withLocks } from '../lock/index.js';
import { jobLabels, recordFreeSpace, recordRun, recordSuccess, type RunOutcome } from '../metrics/record.js';
import type { MetricsStore } from '../metrics/store.js';
import { readTextfile, writeTextfile } from '../metrics/textfile.js';
import type { Redactor } from '../secrets/types.js';
import type { Target } from '../../targets/types.js';
import { openConfiguredTargets } from './targets.js';

/** What the metrics need of a config job (engine/jobs/resolve.ts EffectiveJob has it). */
export interface MeteredJob {
  name: string;
  targets: TargetConfig[];
}

/** How long a run waits for another process recording into the same textfile (a read, a few sets and a rename). */
const TEXTFILE_LOCK_WAIT_MS = 60_000;

/**
 * The textfile of a command's run; read before the run, so a file that is not ours stops it
 * before anything happens. The run is recorded into the file as it is when the run ends, read
 * again under a lock beside it: jobs share one textfile (their series carry `backup_job`), and a
 * run that wrote back what it read at its start undid every run that ended meanwhile (another
 * job's failure went back to its earlier success).
 */
export async function openMetricsTextfile(file: string): Promise<{ record: (outcome: RunOutcome, targets: Target[]) => Promise<void> }> {
  await readTextfile(file);
  const lock = path.join(path.dirname(file), `.${path.basename(file)}.lock`);
  return {
    record: (outcome, targets) =>
      withLocks([{ file: lock, what: `--metrics-textfile ${file}` }], { waitMs: TEXTFILE_LOCK_WAIT_MS }, async () => {
        const store = await readTextfile(file);
        recordRun(store, outcome);
        await recordFreeSpace(store, targets);
        await writeTextfile(file, store);
      }),
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
        // A backup a verify found damaged (catalog/damage.ts) does not restore: no success, whatever its run said.
        const successes = backups.filter((b) => b.job === job.name && b.status === 'success' && !b.damaged);
        // The newest success gives the time, the newest two fulls the sizes (recordSuccess); oldest first.
        const fulls = successes.filter((b) => !b.metadata?.base).slice(0, 2);
        const recorded = [...new Set([...fulls, ...successes.slice(0, 1)])].sort(newestFirst).reverse();
        for (const b of recorded) {
          const finished = b.metadata?.finishedAt ? Date.parse(b.metadata.finishedAt) : b.time.getTime();
          recordSuccess(store, jobLabels(b.cluster, job.name), finished / 1000, b.metadata?.base ? undefined : b.size);
        }
      } catch (e) {
        if (!isLsError(e)) throw e;
        warn(`metrics: cannot read the catalog of ${target.uri} for job ${job.name}: ${e.message}`);
      }
    }
  }
}
