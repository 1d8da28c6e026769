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
  return loadGenerated<GeneratedIndex>('index.cjs');
}

/** validators/prevalidated.json, written by scripts/build-prevalidated.mjs: kind -> sha256 of a file's bytes -> its value as JSON. */
type Prevalidated = Record<string, Record<string, string> | undefined>;
let prevalidated: Prevalidated | null | undefined;

/**
 * The value of a file lsbackup ships (a recipe, a profile) that the build parsed and validated
 * with this very engine, found by the sha256 of its bytes; undefined for any other bytes, which
 * are parsed and checked as usual. Why: parsing the shipped recipes' YAML and checking their
 * templates cost a run of `apply recipes/` ~0.3-0.5 s of CPU before it did anything (BENCHMARKS.md,
 * "Session 26"). Each call returns a fresh copy: callers may change what they get.
 */
export function prevalidatedValue<T>(kind: 'recipe' | 'profile', sha256: string): T | undefined {
  prevalidated ??= loadGenerated<Prevalidated>('prevalidated.json');
  const json = prevalidated?.[kind]?.[sha256];
  return json === undefined ? undefined : (JSON.parse(json) as T);
}

function loadGenerated<T>(file: string): T | null {
  try {
    return requireHere(`./validators/${file}`) as T;
  } catch (e) {
    // Running from the TypeScript sources (tests) or a tsc-only build: nothing was generated.
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return null;
    throw e;
  }
}
