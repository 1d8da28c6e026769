import type { Reporter, RunEvent } from './events.js';
import type { RunReport } from './run-report.js';

/**
 * What a run's events add to its report: the backup id, the component × host rows and the
 * warnings. `run` (engine/jobs/run-job.ts) and `apply` both fill their report this way.
 */
export function recordInReport(report: RunReport, event: RunEvent): void {
  if (event.type === 'run.start') report.backupId = event.backupId;
  if (event.type === 'run.end') report.components = event.summary;
  if (event.type === 'warning') report.warnings.push(event.message);
}

/** Passes events on, filling the report on the way. */
export function reportRecorder(inner: Reporter, report: RunReport): Reporter {
  return {
    emit(event) {
      recordInReport(report, event);
      inner.emit(event);
    },
    progressIntervalMs: inner.progressIntervalMs,
    close: () => inner.close(),
  };
}
