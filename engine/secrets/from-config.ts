import type { SecretSourceConfig } from '../config/load.js';
import { ChainSecretSource } from './chain.js';
import { CommandSecretSource } from './command.js';
import { EnvSecretSource } from './env.js';
import { FileSecretSource } from './file.js';
import type { SecretSource } from './types.js';

/** The secret sources a config names, in order; without any, secrets come from the environment. */
export function createSecretSource(configs: SecretSourceConfig[] | undefined): SecretSource {
  const list = configs && configs.length > 0 ? configs : [{ type: 'env' as const }];
  return new ChainSecretSource(
    list.map((c) => {
      switch (c.type) {
        case 'env':
          return new EnvSecretSource(c.mapping ?? {});
        case 'file':
          return new FileSecretSource(c.path!);
        case 'command':
          return new CommandSecretSource(c.command as [string, ...string[]]);
      }
    }),
  );
}
