import type { SecretSource } from './types.js';
import { secretNotFound } from './not-found.js';
import { withCredentials } from './credentials.js';

/** Secret NAME from environment variable NAME (or systemd credential NAME), or from the variable `mapping[NAME]` names. */
export class EnvSecretSource implements SecretSource {
  constructor(
    private readonly mapping: Record<string, string> = {},
    private readonly env: NodeJS.ProcessEnv = withCredentials(),
  ) {}

  async resolve(name: string): Promise<string> {
    const variable = this.mapping[name] ?? name;
    const value = this.env[variable];
    if (value === undefined) throw secretNotFound(name, `environment variable ${variable} is not set`);
    return value;
  }
}
