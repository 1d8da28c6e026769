/**
 * What one step of a backup or a restore gave, and the one line that says why a command failed:
 * shared by both, so a step reads the same in either's summary, metadata and --json.
 */
import type { CommandResult } from '../executors/types.js';
import type { RenderedStep, StepOutcome } from './types.js';

export interface StepRun {
  outcome: StepOutcome;
  /** Archive bytes the step produced (backup) or consumed (restore). */
  bytes: number;
  /**
   * Work of the step that may finish after the host has gone on to its next step (a spooled
   * output waiting for its turn in the archive); resolves to an error message when it failed.
   */
  settled?: Promise<string | undefined>;
  /** The last lines a command printed (not its archived data), shown by `--verbose`. */
  output?: StepOutputTails;
}

export interface StepOutputTails {
  stdoutTail?: string;
  stderrTail?: string;
}

const TAIL_LINES = 10;
const tail = (text: string) => text.trim().split('\n').slice(-TAIL_LINES).join('\n') || undefined;

/** The tails of a command's captured output; a streamed command's stdout is data and captured as ''. */
export function outputTails(result: { stdout: string; stderr: string }): StepOutputTails | undefined {
  const tails = { stdoutTail: tail(result.stdout), stderrTail: tail(result.stderr) };
  return tails.stdoutTail || tails.stderrTail ? tails : undefined;
}

/** Records the result of `step`, started now: its duration runs until a result is built. */
export function stepRecorder(step: RenderedStep) {
  const started = Date.now();
  const report = (status: StepOutcome['status'], bytes: number, exitCode?: number, error?: string): StepRun => ({
    outcome: { phase: step.phase, name: step.name, status, exitCode, durationMs: Date.now() - started, ...(error ? { error } : {}) },
    bytes,
  });
  return {
    report,
    /** A step that was one command: `bytes` when it succeeded, else failed with why. */
    fromCommand: (result: CommandResult, bytes: number): StepRun => ({
      ...(result.failed
        ? report('failed', 0, result.exitCode, describeFailure(result, result.stderr, undefined, step.timeoutMs))
        : report('success', bytes, result.exitCode)),
      output: outputTails(result),
    }),
  };
}

/** One line that says why a command failed: timeout, signal, sudo, or the end of its stderr. */
export function describeFailure(
  result: { exitCode?: number; timedOut: boolean; signal?: string; cause?: Error; durationMs: number },
  stderr: string,
  extra?: Error,
  timeoutMs?: number,
): string {
  // The limit that was set, not the time measured: on a busy machine the kill lands later.
  if (result.timedOut) return `timed out after ${timeoutMs !== undefined ? timeoutMs / 1000 : Math.round(result.durationMs / 1000)}s`;
  // Without an exit code, or despite exit code 0 (the stream broke), the cause is the story.
  if (result.cause && !result.exitCode) return result.cause.message;
  const lastLines = stderr.trim().split('\n').slice(-3).join(' | ');
  // The command succeeded and what we made of its output failed (a name the format cannot hold):
  // "exit code 0" would point at the host.
  if (extra && result.exitCode === 0) return [extra.message, lastLines].filter(Boolean).join(': ');
  const code = result.exitCode !== undefined ? `exit code ${result.exitCode}` : `killed by ${result.signal ?? 'signal'}`;
  const why = result.cause?.message ?? extra?.message;
  return [code, why, lastLines].filter(Boolean).join(': ');
}
