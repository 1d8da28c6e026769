import { LsError } from '../errors.js';

export function cryptoError(message: string, cause?: unknown, details: Record<string, unknown> = {}): LsError {
  return new LsError('ECRYPTO', { ...details, message }, { cause });
}

/**
 * Whether `e`, or an error it wraps, says no identity given opens the age file: the operator's
 * key is not one it was encrypted to, which says nothing about the stored bytes.
 */
export function isWrongIdentity(e: unknown): boolean {
  for (let at = e; at instanceof Error; at = at.cause) {
    if (at instanceof LsError && at.code === 'ECRYPTO' && at.details.wrongIdentity === true) return true;
  }
  return false;
}
