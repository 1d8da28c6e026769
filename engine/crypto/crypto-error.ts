import { LsError } from '../errors.js';

export function cryptoError(message: string, cause?: unknown): LsError {
  return new LsError('ECRYPTO', { message }, { cause });
}
