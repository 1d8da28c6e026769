import type { Redactor } from '../secrets/types.js';

const MASK = '***';
/** Keys whose values are credentials wherever they appear (target options, headers...). */
const SECRET_KEY = /pass|secret|token|credential|auth|api.?key|access.?key|private.?key|account.?key|sas/i;

/**
 * The config as it may be shown: secret-looking keys masked, ping URLs and webhook header
 * values masked (they are credentials), and anything the redactor knows replaced.
 */
export function maskConfig<T>(value: T, redactor: Redactor): T {
  return redactor.redactValue(mask(value, []) as T);
}

function mask(value: unknown, path: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => mask(v, [...path, String(i)]));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const isPing = object.type === 'ping' && typeof object.url === 'string';
  return Object.fromEntries(
    Object.entries(object).map(([k, v]) => {
      if (path.at(-1) === 'headers' || (SECRET_KEY.test(k) && typeof v === 'string')) return [k, MASK];
      if (isPing && k === 'url') return [k, maskUrlPath(v as string)];
      return [k, mask(v, [...path, k])];
    }),
  );
}

/** https://hc-ping.com/<uuid> -> https://hc-ping.com/*** (the path is the credential). */
function maskUrlPath(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/${MASK}`;
  } catch {
    return MASK;
  }
}
