/**
 * Credentials in target options are written as secret references, `{secret: NAME}`, resolved
 * through the configured secret sources (engine/config/target-options.ts) so that keys never
 * sit in lsbackup.config.yaml. A plain string is accepted too (e.g. from a templated file).
 */
export interface SecretRef {
  secret: string;
}

export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as SecretRef).secret === 'string';
}

/** Schema of an option that holds a credential. A fresh object per use: the validator indexes schema nodes by identity. */
export function secretOption(description: string, example: string) {
  return {
    description: `${description}. Write it as a secret reference, {secret: NAME}, resolved through the configured secret sources (default: the environment variable NAME).`,
    oneOf: [
      { type: 'string', description: 'The value itself (avoid: it then sits in the config file).' },
      {
        type: 'object',
        additionalProperties: false,
        required: ['secret'],
        properties: { secret: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$', description: 'Secret name.' } },
        description: 'A secret reference.',
      },
    ],
    examples: [{ secret: example }],
  };
}
