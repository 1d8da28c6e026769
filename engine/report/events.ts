/** Which run an event belongs to, when several run in one process (`lsbackup schedule`). */
export interface EventSource {
  job?: string;
  backupId?: string;
}

/** Everything a run tells the outside world, as data. Reporters decide how it looks. */
export type RunEvent = (
  | { type: 'run.start'; operation: 'backup' | 'restore'; backupId: string; cluster: string; components: string[]; hosts: number; target?: string }
  | { type: 'component.skip'; component: string; reason: string }
  | { type: 'host.start'; component: string; host: string }
  | { type: 'step.start'; component: string; host: string; phase: string; step: string }
  | {
      type: 'step.end';
      component: string;
      host: string;
      phase: string;
      step: string;
      status: 'success' | 'failed' | 'skipped';
      exitCode?: number;
      durationMs: number;
      error?: string;
      /** The last lines the step printed (its archived output excluded); `--verbose` shows them. */
      stdoutTail?: string;
      stderrTail?: string;
    }
  | { type: 'entry'; component: string; host: string; path: string; size: number }
  | {
      type: 'host.end';
      component: string;
      host: string;
      status: 'success' | 'failed' | 'skipped';
      bytes: number;
      durationMs: number;
      error?: string;
      note?: string;
    }
  | { type: 'component.end'; component: string; status: string; durationMs: number; version?: string }
  | { type: 'warning'; message: string; component?: string; host?: string }
  | { type: 'archive.stored'; target: string; name: string; bytes: number; sha256: string }
  | ProgressEvent
  /** `lsbackup recipe test`: a stage of the round trip (validate, seed, apply, verify, destroy, restore, check) began or ended. */
  | { type: 'stage'; recipe: string; stage: string; status: 'start' | 'success' | 'failed'; durationMs?: number; error?: string }
  | {
      type: 'run.end';
      status: 'success' | 'partial' | 'failed' | 'interrupted';
      exitCode: number;
      durationMs: number;
      archive?: string;
      bytes?: number;
      summary: SummaryRow[];
    }
) &
  EventSource;

/** Bytes moved so far, sent at a steady interval while they move (engine/report/progress.ts). */
export interface ProgressEvent {
  type: 'progress';
  operation: 'backup' | 'restore' | 'stage' | 'verify' | 'get' | 'prune';
  bytes: number;
  totalBytes?: number;
  entries: number;
  bytesPerSecond: number;
  etaSeconds?: number;
  hostsDone?: number;
  hostsTotal?: number;
  hosts?: Array<{ component?: string; host: string; bytes: number; totalBytes?: number; entries: number; done: boolean }>;
}

export interface SummaryRow {
  component: string;
  host: string;
  status: string;
  bytes: number;
  durationMs: number;
  error?: string;
}

export interface Reporter {
  emit(event: RunEvent): void;
  /** How often this reporter wants `progress` events; undefined: none (--quiet). */
  readonly progressIntervalMs?: number;
  /** Flush anything buffered (the live view) before the process prints its last words. */
  close(): void;
}
