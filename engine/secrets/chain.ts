import { LsError } from '../errors.js';
import { isSecretNotFound } from './not-found.js';
import type { SecretSource } from './types.js';

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
