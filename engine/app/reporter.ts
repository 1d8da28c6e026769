import { LsError } from '../errors.js';
import type { Reporter } from '../report/events.js';
import { ProgressMeter, type ProgressOperation } from '../report/progress.js';
import { problemsOnlyReporter, withStepOutput, type OutputLevel } from '../report/output-level.js';
import { createReporter, type ReporterKind } from '../report/reporters.js';
import type { Redactor } from '../secrets/types.js';

/** -q/-v of this process's command line, set once by the CLI before a command runs (engine/cli/output-level-options.ts). */
let outputLevel: OutputLevel = 'normal';
export function setOutputLevel(level: OutputLevel): void {
  outputLevel = level;
}

/**
 * Whether a command prints a result for people (a verify report, a prune table, a restore's plan
 * once confirmed): always, but under -q only one that needs attention (not a plain success).
 */
export function showsResult(needsAttention: boolean): boolean {
  return needsAttention || outputLevel !== 'quiet';
}

/**
 * --json for machines (everything, whatever the level), else per -q/-v: only problems; plain
 * lines with each step's output tails; or a live view on a TTY (unless `live` is false: the
 * scheduler's concurrent jobs), plain lines otherwise.
 * Everything goes through the run's redactor.
 */
export async function runReporter(json: boolean | undefined, redactor: Redactor, { live = true } = {}): Promise<Reporter> {
  if (!json && outputLevel === 'quiet') return problemsOnlyReporter(redactor);
  const interval = progressInterval();
  // Verbose output is a log to read afterwards: plain lines, no live block redrawn over it.
  if (!json && outputLevel === 'verbose') return withStepOutput(await createReporter('plain', redactor, interval), redactor);
  // A terminal that reports no width (0 columns: a serial console, some CI ptys) cannot hold a live block.
  const terminal = process.stderr.isTTY && (process.stderr.columns ?? 0) > 0;
  const kind: ReporterKind = json ? 'json' : live && terminal ? 'tty' : 'plain';
  return createReporter(kind, redactor, interval);
}

/**
 * The progress of a catalog command that reads stored objects (verify, get, prune), against
 * their stored size when known; close it when done. Their --json result on stdout is one JSON
 * document, so with --json the progress events go to stderr as JSON lines.
 */
export async function objectProgress(operation: ProgressOperation, json: boolean | undefined, redactor: Redactor, totalBytes?: number): Promise<ProgressMeter> {
  const reporter = json ? await createReporter('json', redactor, progressInterval()) : await runReporter(false, redactor);
  return new ProgressMeter(reporter, operation, totalBytes !== undefined ? { totalBytes } : {});
}

/** Progress every N ms instead of the reporter's default (engine/report/reporters.ts). */
export const PROGRESS_INTERVAL_ENV = 'LSBACKUP_PROGRESS_INTERVAL_MS';

function progressInterval(): number | undefined {
  const raw = process.env[PROGRESS_INTERVAL_ENV];
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new LsError('EUSAGE', { message: `${PROGRESS_INTERVAL_ENV} is '${raw}': set it to a whole number of milliseconds above 0, or unset it` });
  }
  return ms;
}
