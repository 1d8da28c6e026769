export { EnvSecretSource } from './env.js';
export { FileSecretSource } from './file.js';
export { CommandSecretSource } from './command.js';
export { ChainSecretSource } from './chain.js';
export { createRedactor } from './redactor.js';
export { secretNotFound, isSecretNotFound } from './not-found.js';
export type { SecretSource, Redactor, ResolvedSecrets } from './types.js';
export { createSecretSource } from './from-config.js';
