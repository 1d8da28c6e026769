import { writeFileAtomically } from '../atomic-file.js';
import type { SummaryRow } from '../report/events.js';
import type { RetentionOutcome } from './retention.js';

/** One target of a run: where the copy went (or why not) and what retention did there. */
export interface TargetReport {
  target: string;
  name?: string;
  error?: string;
  retention?: RetentionOutcome | { error: string };
  /** The job's `verify: true`: the copy read back from the target and checked, and what was wrong. */
  verify?: { ok: boolean; problems?: string[] };
}

/**
 * What one job run did, as data: the `--report` file, the webhook body and the scheduler's
 * log line are all this shape.
 */
export interface RunReport {
  job: string;
  cluster?: string;
  status: 'running' | 'success' | 'partial' | 'failed';
  exitCode?: number;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  archive?: string;
  /** The backup's id (metadata.json `backupId`), once the backup started. */
  backupId?: string;
  bytes?: number;
  sha256?: string;
  targets: TargetReport[];
  /** One row per component × host (component rows with host '-' when no host ran it). */
  components: SummaryRow[];
  warnings: string[];
  /** Scheduler ticks of this job skipped because this run was still going (or queued). */
  skippedTicks?: number;
  error?: string;
}

/** Writes the report beside its final name and renames it: a reader never sees half a file. */
export async function writeReportFile(file: string, report: RunReport): Promise<void> {
  await writeFileAtomically(file, JSON.stringify(report, null, 2) + '\n', 0o600);
}
