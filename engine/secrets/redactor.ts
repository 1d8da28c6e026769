import { shellQuote } from '../template/quote.js';
import type { Redactor } from './types.js';

/** Shorter values would mask ordinary words everywhere. */
const MIN_SECRET_LENGTH = 4;
const MASK = '***';

/** The ways a value can appear in what we print: raw, shell-quoted (as rendered), JSON-escaped (logs, metadata). */
function encodings(value: string): string[] {
  const json = (s: string) => JSON.stringify(s).slice(1, -1);
  const quoted = shellQuote(value);
  return [value, quoted, json(value), json(quoted), quoted.slice(1, -1)].filter((s) => s.length >= MIN_SECRET_LENGTH);
}

/**
 * A redactor for one run: the app layer (engine/app/) makes one per command or job run and hands
 * it to everything that resolves secrets or prints, so one run's secrets never leak into another.
 */
export function createRedactor(): Redactor {
  // Longest first, so a value's quoted form is masked whole, not around a masked core.
  let needles: string[] = [];
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
    add(value: string) {
      if (value.length < MIN_SECRET_LENGTH) return;
      needles = [...new Set([...needles, ...encodings(value)])].sort((a, b) => b.length - a.length);
    },
    redact,
    redactValue,
    hasSecrets: () => needles.length > 0,
  };
}
