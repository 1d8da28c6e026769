import { createRequire } from 'node:module';
import { schemaDigest } from './digest.js';

type Check = (data: unknown) => boolean;

/** dist/engine/schema/validators.generated.cjs, written by scripts/build-validators.mjs. */
interface Generated {
  schemas: Record<string, { digest: string; validator: string }>;
  [validator: string]: unknown;
}

let generated: Generated | null | undefined;
const checks = new Map<object, Check | undefined>();

/**
 * The build-time validator of `schema`, when one was generated from exactly this schema (same
 * digest); undefined otherwise, and the caller compiles the schema with Ajv as before. It only
 * says valid or not: the positioned problems of invalid input always come from Ajv.
 */
export function precompiledCheck(schema: { $id: string }): Check | undefined {
  if (checks.has(schema)) return checks.get(schema);
  generated ??= loadGenerated();
  const entry = generated?.schemas[schema.$id];
  const check = entry && entry.digest === schemaDigest(schema) ? (generated![entry.validator] as Check) : undefined;
  checks.set(schema, check);
  return check;
}

function loadGenerated(): Generated | null {
  try {
    return createRequire(import.meta.url)('./validators.generated.cjs') as Generated;
  } catch (e) {
    // Running from the TypeScript sources (tests) or a tsc-only build: nothing was generated.
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return null;
    throw e;
  }
}
