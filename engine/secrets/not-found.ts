import { LsError } from '../errors.js';

/** A source that simply does not have the secret; a chain moves on to the next source. */
export function secretNotFound(name: string, message: string): LsError {
  return new LsError('ESECRET', { name, message, notFound: true });
}

export function isSecretNotFound(error: unknown): boolean {
  return error instanceof LsError && error.code === 'ESECRET' && error.details.notFound === true;
}
