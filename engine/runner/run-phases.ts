import type { Reporter } from '../report/events.js';
import { lifecycle, type Operation } from './phases.js';
import type { RenderedStep, StepOutcome } from './types.js';

export interface StepRun {
  outcome: StepOutcome;
  /** Archive bytes the step produced (backup) or consumed (restore). */
  bytes: number;
}

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
  context: { component: string; host: string; reporter: Reporter; signal: AbortSignal },
  runStep: (step: RenderedStep, signal: AbortSignal | undefined) => Promise<StepRun>,
): Promise<PhasesResult> {
  const { component, host, reporter } = context;
  const outcomes: StepOutcome[] = [];
  let bytes = 0;
  let failure: string | undefined;
  for (const phase of lifecycle[operation]) {
    for (const step of steps.filter((s) => s.phase === phase.name)) {
      const blocked = (failure !== undefined || context.signal.aborted) && !phase.alwaysRun;
      if (!step.enabled || blocked) {
        outcomes.push({ phase: step.phase, name: step.name, status: 'skipped', durationMs: 0 });
        continue;
      }
      reporter.emit({ type: 'step.start', component, host, phase: step.phase, step: step.name });
      const result = await runStep(step, phase.alwaysRun ? undefined : context.signal);
      bytes += result.bytes;
      outcomes.push(result.outcome);
      reporter.emit({ type: 'step.end', component, host, step: result.outcome.name, ...result.outcome });
      if (result.outcome.status === 'failed') {
        const message = `${step.phase} step '${step.name}': ${result.outcome.error}`;
        // onError: continue notes the failure and goes on; the host's result stays good.
        if (step.onError === 'continue') {
          reporter.emit({ type: 'warning', component, host, message: `${message} (continuing: onError is continue)` });
        } else {
          failure ??= message;
        }
      }
    }
  }
  if (context.signal.aborted) failure ??= 'interrupted';
  return { steps: outcomes, bytes, failure };
}
