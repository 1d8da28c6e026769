import type { Reporter } from '../report/events.js';
import { problemsOnlyReporter, withStepOutput, type OutputLevel } from '../report/output-level.js';
import { createReporter, type ReporterKind } from '../report/reporters.js';
import type { Redactor } from '../secrets/types.js';

/** -q/-v of this process's command line, set once by the CLI before a command runs (engine/cli/output-level-options.ts). */
let outputLevel: OutputLevel = 'normal';
export function setOutputLevel(level: OutputLevel): void {
  outputLevel = level;
}

/**
 * --json for machines (everything, whatever the level), else per -q/-v: only problems; plain
 * lines with each step's output tails; or a live view on a TTY (unless `live` is false: the
 * scheduler's concurrent jobs), plain lines otherwise.
 * Everything goes through the run's redactor.
 */
export async function runReporter(json: boolean | undefined, redactor: Redactor, { live = true } = {}): Promise<Reporter> {
  if (!json && outputLevel === 'quiet') return problemsOnlyReporter(redactor);
  // Verbose output is a log to read afterwards: plain lines, no live block redrawn over it.
  if (!json && outputLevel === 'verbose') return withStepOutput(await createReporter('plain', redactor), redactor);
  const kind: ReporterKind = json ? 'json' : live && process.stderr.isTTY ? 'tty' : 'plain';
  return createReporter(kind, redactor);
}
