import { LsError } from '../errors.js';
import { isSecretNotFound } from './not-found.js';
import type { Redactor, SecretSource } from './types.js';

/** Tries sources in order; the first that has the secret wins. A source that fails (not just "not found") stops the chain. */
export class ChainSecretSource implements SecretSource {
  constructor(private readonly sources: SecretSource[]) {}

  async resolve(name: string): Promise<string> {
    const misses: string[] = [];
    for (const source of this.sources) {
      try {
        return await source.resolve(name);
      } catch (error) {
        if (!isSecretNotFound(error)) throw error;
        misses.push(String((error as LsError).details.message));
      }
    }
    throw new LsError('ESECRET', { name, message: misses.length ? misses.join('; ') : 'no secret sources are configured' });
  }
}

/** Resolve the named secrets and register every value with the redactor before anything can print it. */
export async function resolveSecrets(names: Iterable<string>, source: SecretSource, redactor: Redactor): Promise<Map<string, string>> {
  const resolved = new Map<string, string>();
  for (const name of new Set(names)) {
    const value = await source.resolve(name);
    redactor.add(value);
    resolved.set(name, value);
  }
  return resolved;
}
