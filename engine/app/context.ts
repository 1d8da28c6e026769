import type { Reporter } from '../report/events.js';
import type { Redactor } from '../secrets/types.js';
import { interruptSignal } from './interrupt.js';
import { runReporter } from './reporter.js';

/**
 * What every step of one run shares: its redactor (filled with the run's secrets as they are
 * resolved, never with another run's), the reporter that prints through it, and the signal that
 * Ctrl-C / SIGTERM / SIGHUP (or the process guard) abort.
 */
export interface RunContext {
  redactor: Redactor;
  reporter: Reporter;
  signal: AbortSignal;
}

/** A command's run: reporter per --json and the terminal, signals handled until close(). */
export async function openCommandRun(json: boolean | undefined, redactor: Redactor): Promise<RunContext & { close: () => void }> {
  const reporter = await runReporter(json, redactor);
  const interrupt = interruptSignal();
  return {
    redactor,
    reporter,
    signal: interrupt.signal,
    close: () => {
      interrupt.dispose();
      reporter.close();
    },
  };
}
