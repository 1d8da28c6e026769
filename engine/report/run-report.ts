/**
 * What one job run did, as data: the `--report` file, the webhook body, the notifications and the
 * scheduler's log line. Defined here, below jobs/ (which fills it) and notify/ (which sends it).
 */
import type { SummaryRow } from './events.js';

/** What retention did in one target after a run (engine/jobs/retention.ts). */
export interface RetentionOutcome {
  deleted: string[];
  kept: string[];
  /** Kept because their metadata could not be read (cluster, job and time unknown), each with why. */
  unreadable?: string[];
}

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
