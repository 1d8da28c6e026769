/**
 * The last line of defence against a promise that rejects with nobody listening. Node's default
 * (--unhandled-rejections=throw) ends the process on the spot: no post-step, no summary, locks,
 * spool and uploads left behind. With the guard, the rejection is reported as a bug, the run in
 * progress is stopped the way Ctrl-C stops it (post-steps run, nothing partial is kept) and the
 * process ends as a failed run (exit 1).
 */
import type { Redactor } from '../secrets/types.js';
import { visibleControls } from '../report/format.js';

type Listener = (reason: string) => void;

const listeners = new Set<Listener>();
/** The command's redactor and those of the job runs going on (each job has its own). */
const redactors = new Set<Redactor>();
let faulted = false;

/** Once per process, before any command runs; the redactor is the one the command's run fills. */
export function installProcessGuard(redactor: Redactor): void {
  redactors.add(redactor);
  process.on('unhandledRejection', (reason: unknown) => {
    faulted = true;
    const detail = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    const masked = [...redactors].reduce((text, r) => r.redact(text), detail);
    process.stderr.write(visibleControls(`lsbackup: unexpected error (please report); stopping the run:\n${masked}\n`));
    for (const listener of listeners) listener('an unexpected error');
  });
}

/** While a run with a redactor of its own lasts, the guard's report is masked with it too; returns the release. */
export function maskFaultReportsWith(redactor: Redactor): () => void {
  redactors.add(redactor);
  return () => redactors.delete(redactor);
}

/** Called with a reason when the guard catches a rejection; returns the unsubscribe. */
export function onProcessFault(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** True once an unhandled rejection happened: the run cannot be called a success. */
export function processFaulted(): boolean {
  return faulted;
}
