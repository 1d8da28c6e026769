import { createRequire } from 'node:module';
import { schemaDigest } from './digest.js';

type Check = (data: unknown) => boolean;

/** dist/engine/schema/validators/index.cjs, written by scripts/build-validators.mjs: one file per schema. */
interface GeneratedIndex {
  schemas: Record<string, { digest: string; file: string }>;
}

const requireHere = createRequire(import.meta.url);
let generated: GeneratedIndex | null | undefined;
const checks = new Map<object, Check | undefined>();

/**
 * The build-time validator of `schema`, when one was generated from exactly this schema (same
 * digest); undefined otherwise, and the caller compiles the schema with Ajv as before. It only
 * says valid or not: the positioned problems of invalid input always come from Ajv. Only the
 * validators a run asks for are loaded.
 */
export function precompiledCheck(schema: { $id: string }): Check | undefined {
  if (checks.has(schema)) return checks.get(schema);
  generated ??= loadIndex();
  const entry = generated?.schemas[schema.$id];
  const check = entry && entry.digest === schemaDigest(schema) ? (requireHere(`./validators/${entry.file}`) as { check: Check }).check : undefined;
  checks.set(schema, check);
  return check;
}

function loadIndex(): GeneratedIndex | null {
  try {
    return requireHere('./validators/index.cjs') as GeneratedIndex;
  } catch (e) {
    // Running from the TypeScript sources (tests) or a tsc-only build: nothing was generated.
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return null;
    throw e;
  }
}
