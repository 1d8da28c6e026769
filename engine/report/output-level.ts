/**
 * -q/--quiet and -v/--verbose for people at a terminal or reading a log: quiet prints only what
 * needs attention, verbose adds what each step printed (a successful pg_dump's warnings too).
 * --json is for machines and carries everything whatever the level.
 */
import type { Redactor } from '../secrets/types.js';
import type { Reporter, RunEvent } from './events.js';
import { describe } from './event-lines.js';
import { visibleControls } from './format.js';

export type OutputLevel = 'quiet' | 'normal' | 'verbose';

/** What needs attention: warnings, failures and a result that is not a success. */
function needsAttention(event: RunEvent): boolean {
  switch (event.type) {
    case 'warning':
      return true;
    case 'step.end':
    case 'host.end':
      return event.status === 'failed';
    case 'run.end':
      return event.status !== 'success';
    default:
      return false;
  }
}

/** --quiet: only the lines that need attention, on stderr; the exit code says the rest. */
export function problemsOnlyReporter(redactor: Redactor): Reporter {
  return {
    emit(event) {
      const line = needsAttention(event) ? describe(event) : undefined;
      if (line) process.stderr.write(redactor.redact(event.job ? `[${event.job}] ${line}` : line) + '\n');
    },
    close() {},
  };
}

/** The tails a step printed, indented under its name, control characters shown; none for a step that printed nothing. */
export function stepOutputLines(event: RunEvent): string | undefined {
  if (event.type !== 'step.end' || (!event.stdoutTail && !event.stderrTail)) return undefined;
  const block = (label: string, text: string | undefined) =>
    text
      ? [
          `    ${label}:`,
          ...visibleControls(text)
            .split('\n')
            .map((l) => `      ${l}`),
        ]
      : [];
  return [
    `  ${event.component} @ ${event.host}: ${event.phase} step '${event.step}' ${event.status}`,
    ...block('stdout', event.stdoutTail),
    ...block('stderr', event.stderrTail),
  ].join('\n');
}

/** --verbose: the reporter's lines plus each step's output tails, through the run's redactor. */
export function withStepOutput(inner: Reporter, redactor: Redactor): Reporter {
  return {
    emit(event) {
      const lines = stepOutputLines(event);
      // The scheduler's jobs run at once: each block says whose it is, like the plain lines.
      if (lines) process.stderr.write(redactor.redact(event.job ? `[${event.job}] ${lines.trimStart()}` : lines) + '\n');
      inner.emit(event);
    },
    progressIntervalMs: inner.progressIntervalMs,
    close: () => inner.close(),
  };
}
