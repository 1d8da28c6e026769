/**
 * The --json contract of every command (docs/json.md): one JSON object per line on stdout, each
 * with `schemaVersion`, `time` and a `type` naming the event; the shapes are
 * schemas/events.schema.json's. Every string is masked by the run's redactor.
 */
import { isLsError, type LsError, type Problem } from '../errors.js';
import type { Redactor } from '../secrets/types.js';
import type { ErrorEvent, EventBody } from '../shapes/events.generated.js';
import { writeFullySync } from './write-fully.js';

/** Raised only when a field changes meaning or goes away; new event types and fields keep it (docs/json.md). */
export const SCHEMA_VERSION = 1;

/**
 * One event as its line: the envelope first, then the event, redacted. An event is JSON data, so
 * with no secret known it is printed as it is (a collect of 10,000 files prints 10,000 lines).
 */
export function jsonLine(event: EventBody, redactor: Redactor): string {
  const line = { schemaVersion: SCHEMA_VERSION, time: new Date().toISOString(), ...event };
  return JSON.stringify(redactor.hasSecrets() ? redactor.redactValue(line) : line) + '\n';
}

/** Prints events on stdout whole and at once (a process.exit right after loses nothing). */
export function printJsonEvents(events: EventBody[], redactor: Redactor): void {
  writeFullySync(1, events.map((e) => jsonLine(e, redactor)).join(''));
}

/** A problem of a file as the contract says it: `column`, not the catalogue's `col`. */
export function problemRecord(p: Problem): NonNullable<ErrorEvent['problems']>[number] {
  return {
    file: p.file,
    ...(p.line !== undefined ? { line: p.line } : {}),
    ...(p.col !== undefined ? { column: p.col } : {}),
    message: p.message,
    ...(p.hint ? { hint: p.hint } : {}),
  };
}

/**
 * The `error` event of a failed command: the catalogue's code, message and exit code, and where
 * the first problem is for a validation error. An error not in the catalogue (a bug) is EUNEXPECTED.
 */
export function errorEvent(e: unknown, exitCode: number): ErrorEvent {
  if (!isLsError(e)) return { type: 'error', code: 'EUNEXPECTED', message: `unexpected error (please report): ${(e as Error).message ?? String(e)}`, exitCode };
  const problems = problemsOf(e);
  const first = problems?.[0];
  return {
    type: 'error',
    code: e.code,
    message: e.message,
    exitCode: e.exitCode,
    ...(first
      ? { file: first.file, ...(first.line !== undefined ? { line: first.line } : {}), ...(first.col !== undefined ? { column: first.col } : {}) }
      : {}),
    ...(problems ? { problems: problems.map(problemRecord) } : {}),
  };
}

function problemsOf(e: LsError): Problem[] | undefined {
  const problems = e.details.problems;
  return Array.isArray(problems) && problems.length > 0 ? (problems as Problem[]) : undefined;
}
