import type { Reporter } from '../report/events.js';
import { createReporter, type ReporterKind } from '../report/reporters.js';
import type { Redactor } from '../secrets/types.js';

/** --json for machines, a live view on a TTY, plain lines otherwise; everything through the run's redactor. */
export function runReporter(json: boolean | undefined, redactor: Redactor): Promise<Reporter> {
  const kind: ReporterKind = json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';
  return createReporter(kind, redactor);
}
