import type { Reporter } from '../report/events.js';
import { lifecycle, type Operation, type PhaseDefinition } from '../recipes/lifecycle.js';
import type { RenderedStep, StepOutcome } from './types.js';
import { stepRecorder, type StepRun } from './step-result.js';

export interface PhasesResult {
  steps: StepOutcome[];
  bytes: number;
  /** The first failure, as one line; undefined when every step that ran succeeded. */
  failure?: string;
}

/**
 * Runs one host's rendered steps phase by phase, as the lifecycle table says: after a failure
 * or an interrupt only always-run phases (post) still run, and they run with their own signal
 * so an interrupted backup still restarts what it stopped. Shared by backup and restore.
 */
export async function runPhases(
  operation: Operation,
  steps: RenderedStep[],
  context: PhasesContext,
  runStep: (step: RenderedStep, signal: AbortSignal | undefined) => Promise<StepRun>,
): Promise<PhasesResult> {
  const host = hostPhases(steps, context, runStep);
  for (const phase of lifecycle[operation]) await host.runPhase(phase);
  return host.finish();
}

export interface PhasesContext {
  component: string;
  host: string;
  reporter: Reporter;
  signal: AbortSignal;
}

/** One host's way through the lifecycle, a phase at a time (runPhases, or hosts kept in step). */
export interface HostPhases {
  runPhase(phase: PhaseDefinition): Promise<void>;
  /** Waits for late work and says how the host did. */
  finish(): Promise<PhasesResult>;
}

/**
 * The state one host carries from phase to phase: a failure (onError: fail) or an interrupt
 * skips the remaining steps except those of always-run phases.
 */
export function hostPhases(
  steps: RenderedStep[],
  context: PhasesContext,
  runStep: (step: RenderedStep, signal: AbortSignal | undefined) => Promise<StepRun>,
): HostPhases {
  const { component, host, reporter } = context;
  const outcomes: StepOutcome[] = [];
  let bytes = 0;
  let failure: string | undefined;
  // Only a failure with onError: fail stops the remaining (non-always) steps.
  let blocked = false;
  const noteFailure = (step: RenderedStep, error: string | undefined) => {
    const message = `${step.phase} step '${step.name}': ${error}`;
    // onError: continue notes the failure and goes on; the host's result stays good.
    if (step.onError === 'continue') {
      reporter.emit({ type: 'warning', component, host, message: `${message} (continuing: onError is continue)` });
    } else {
      blocked = true;
      failure ??= message;
    }
  };
  const settling: Promise<void>[] = [];
  return {
    async runPhase(phase) {
      for (const step of steps.filter((s) => s.phase === phase.name)) {
        if (!step.enabled || ((blocked || context.signal.aborted) && !phase.alwaysRun)) {
          outcomes.push({ phase: step.phase, name: step.name, status: 'skipped', durationMs: 0 });
          continue;
        }
        reporter.emit({ type: 'step.start', component, host, phase: step.phase, step: step.name });
        const result = await runStepSafely(step, phase.alwaysRun ? undefined : context.signal, runStep);
        bytes += result.bytes;
        outcomes.push(result.outcome);
        // The outcome's `name` is the event's `step` (schemas/events.schema.json: one field, one name).
        const { name, ...outcome } = result.outcome;
        reporter.emit({ type: 'step.end', component, host, step: name, ...outcome, ...result.output });
        if (result.outcome.status === 'failed') noteFailure(step, result.outcome.error);
        const warning = stderrWarning(step, result);
        if (warning) reporter.emit({ type: 'warning', component, host, message: warning });
        if (result.settled) settling.push(settleLate(result, (error) => noteFailure(step, error)));
      }
    },
    async finish() {
      // The host is done only when everything its steps produced is in the archive.
      await Promise.all(settling);
      if (context.signal.aborted) failure ??= 'interrupted';
      return { steps: outcomes, bytes, failure };
    },
  };
}

/** Longest stderr tail a `warnOn: stderr` warning carries (the last lines, cut to this many characters). */
const WARNING_TAIL_CHARS = 2000;

/**
 * `warnOn: stderr`: a tool that reports problems on stderr but exits 0 (pg_dump) gets them seen.
 * The reporter masks secrets in every event, this one included.
 */
function stderrWarning(step: RenderedStep, result: StepRun): string | undefined {
  const tail = result.output?.stderrTail;
  if (step.warnOn !== 'stderr' || result.outcome.status !== 'success' || !tail) return undefined;
  const cut = tail.length > WARNING_TAIL_CHARS ? '…' + tail.slice(-WARNING_TAIL_CHARS) : tail;
  return `${step.phase} step '${step.name}' succeeded but wrote to stderr: ${cut}`;
}

/**
 * A step whose late part failed becomes a failed step after the fact, with the same
 * consequences as any failure from then on (the steps not yet run are skipped).
 */
async function settleLate(result: StepRun, fail: (error: string) => void): Promise<void> {
  const error = await result.settled!.catch((e: Error) => e.message);
  if (error === undefined) return;
  Object.assign(result.outcome, { status: 'failed', error });
  fail(error);
}

/**
 * A step that throws (the connection dropped, a file could not be staged) is a failed step like
 * any other, so the always-run phases after it still get their turn.
 */
async function runStepSafely(
  step: RenderedStep,
  signal: AbortSignal | undefined,
  runStep: (step: RenderedStep, signal: AbortSignal | undefined) => Promise<StepRun>,
): Promise<StepRun> {
  const { report } = stepRecorder(step);
  try {
    return await runStep(step, signal);
  } catch (e) {
    return report('failed', 0, undefined, (e as Error).message);
  }
}
