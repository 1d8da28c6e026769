import type { RunEvent as RunEventShape } from '../shapes/events.generated.js';

export type { ProgressEvent, SummaryRow } from '../shapes/events.generated.js';

/**
 * Everything a run tells the outside world, as data; reporters decide how it looks. The shapes
 * are schemas/events.schema.json's (the --json contract, docs/json.md), generated.
 */
export type RunEvent = RunEventShape;

/** Which run an event belongs to, when several run in one process (`lsbackup schedule`). */
export type EventSource = Pick<RunEvent, 'job' | 'cluster' | 'backupId'>;

export interface Reporter {
  emit(event: RunEvent): void;
  /** How often progress events are sent (ms); wrappers pass their inner reporter's on (engine/report/progress.ts). */
  readonly progressIntervalMs?: number;
  /** Flush anything buffered (the live view) before the process prints its last words. */
  close(): void;
}
