import { shellQuote } from '../template/quote.js';
import type { Redactor } from './types.js';

/** Shorter values would mask ordinary words everywhere; a secret this short is warned about instead (tooShortToMask). */
export const MIN_SECRET_LENGTH = 4;
const MASK = '***';

// eslint-disable-next-line no-control-regex -- control characters other than tab: where output is cut into lines or escaped
const CUTS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]+/;

/**
 * The pieces of a value that can appear in output on their own. Output is cut into lines (step
 * tails, log lines) and trimmed, and control characters are shown escaped on a terminal, so a
 * value with a trailing newline (a Kubernetes Secret made --from-file, a YAML `|` block) or
 * several lines is never printed whole: each piece between control characters is, with or
 * without its surrounding blanks.
 */
function pieces(value: string): string[] {
  const parts = value.split(CUTS);
  return [value, value.trim(), ...parts, ...parts.map((p) => p.trim())];
}

/** The ways a piece can appear in what we print: raw, shell-quoted (as rendered), JSON-escaped (logs, metadata). */
function encodings(value: string): string[] {
  const json = (s: string) => JSON.stringify(s).slice(1, -1);
  const quoted = shellQuote(value);
  return [value, quoted, json(value), json(quoted), quoted.slice(1, -1)];
}

/** True when a piece of the value is too short to be masked: printed, it would show in clear. */
export function tooShortToMask(value: string): boolean {
  return value
    .split(CUTS)
    .map((p) => p.trim())
    .some((p) => p.length > 0 && p.length < MIN_SECRET_LENGTH);
}

/**
 * A redactor for one run: the app layer (engine/app/) makes one per command or job run and hands
 * it to everything that resolves secrets or prints, so one run's secrets never leak into another.
 */
export function createRedactor(): Redactor {
  // Longest first, so a value's quoted form is masked whole, not around a masked core.
  let needles: string[] = [];
  let unmaskable = new Set<string>();
  const wholes = new Set<string>();
  const redact = (text: string): string => needles.reduce((out, needle) => out.split(needle).join(MASK), text);
  const redactValue = <T>(value: T): T => {
    if (typeof value === 'string') return redact(value) as T;
    if (Array.isArray(value)) return value.map(redactValue) as T;
    if (value instanceof Error) return Object.assign(new Error(redact(value.message)), { name: value.name, stack: value.stack && redact(value.stack) }) as T;
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactValue(v)])) as T;
    }
    return value;
  };
  return {
    add(value: string, setting: string) {
      if (tooShortToMask(value)) unmaskable.add(setting);
      wholes.add(value);
      const found = pieces(value)
        .filter((piece) => piece.length >= MIN_SECRET_LENGTH)
        .flatMap(encodings);
      needles = [...new Set([...needles, ...found])].sort((a, b) => b.length - a.length);
    },
    takeUnmaskable() {
      const settings = [...unmaskable];
      unmaskable = new Set();
      return settings;
    },
    redact,
    redactValue,
    isSecret: (value) => wholes.has(value),
    hasSecrets: () => needles.length > 0,
  };
}
