/**
 * The build-time validators (scripts/build-validators.mjs -> dist/engine/schema/validators/, one file per schema)
 * decide alone whether start-up input is valid; Ajv only explains invalid input. So their verdict
 * must be Ajv's on every fixture, and a schema that changed after the build must not use them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startupSchemas } from '../../engine/app/startup-schemas.js';
import { schemaDigest } from '../../engine/schema/digest.js';
import { recipeSchema } from '../../engine/recipes/schema.js';
import { configSchema } from '../../engine/config/load.js';
import { metadataReadSchema } from '../../engine/archive/read-metadata.js';
import { metadataSample } from '../helpers/metadata-sample.js';

const repo = join(import.meta.dirname, '../..');
const generatedDir = join(repo, 'dist/engine/schema/validators');

type Check = (data: unknown) => boolean;
const requireHere = createRequire(import.meta.url);
const generated = requireHere(join(generatedDir, 'index.cjs')) as { schemas: Record<string, { digest: string; file: string }> };
const generatedCheck = (id: string): Check => (requireHere(join(generatedDir, generated.schemas[id]!.file)) as { check: Check }).check;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = join(dir, name);
    if (statSync(file).isDirectory()) return yamlFiles(file);
    return /\.ya?ml$/.test(name) ? [file] : [];
  });
}

/** Every document that parses as YAML (syntax-error fixtures never reach a schema). */
function parsedDocuments(files: string[]): { file: string; data: unknown }[] {
  return files.flatMap((file) => {
    try {
      return [{ file, data: parse(readFileSync(file, 'utf8')) as unknown }];
    } catch {
      return [];
    }
  });
}

describe('build-time validators', () => {
  it('cover every start-up schema, each built from the schema as it is now', () => {
    for (const schema of startupSchemas) {
      expect(generated.schemas[schema.$id], schema.$id).toBeDefined();
      expect(generated.schemas[schema.$id]!.digest, schema.$id).toBe(schemaDigest(schema));
    }
    // One file each: a run loads only the validators of what it reads.
    expect(new Set(Object.values(generated.schemas).map((s) => s.file)).size).toBe(startupSchemas.length);
  });

  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const cases = [
    { schema: recipeSchema, files: [...yamlFiles(join(repo, 'recipes')), ...yamlFiles(join(repo, 'test/recipes/fixtures'))] },
    { schema: configSchema, files: [join(repo, 'lsbackup.config.yaml'), ...yamlFiles(join(repo, 'test/config/fixtures'))] },
  ];
  for (const { schema, files } of cases) {
    it(`agree with Ajv on every fixture of ${schema.$id}`, () => {
      const full = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
      const documents = parsedDocuments(files);
      const verdicts = documents.map(({ file, data }) => ({ file, ajv: full(data), generated: generatedCheck(schema.$id)(data) }));
      expect(verdicts.filter((v) => v.ajv !== v.generated)).toEqual([]);
      // Both kinds are exercised: valid documents and documents that break the schema.
      expect(new Set(verdicts.map((v) => v.ajv))).toEqual(new Set([true, false]));
    });
  }

  it("agree with Ajv on metadata.json as read back, formats included (date-time checked by ajv-formats' checker)", () => {
    const valid = { ...metadataSample, newerField: 'a reader lets keys it does not know through' };
    const documents = [valid, { ...valid, startedAt: 'yesterday' }, { ...valid, status: 'fine' }, { ...valid, cluster: undefined }];
    const full = addFormats.default(new Ajv2020({ allErrors: true, strict: true }), ['date-time']).compile(metadataReadSchema);
    const verdicts = documents.map((data) => ({ ajv: full(data), generated: generatedCheck(metadataReadSchema.$id)(data) }));
    expect(verdicts.map((v) => v.generated)).toEqual([true, false, false, false]);
    expect(verdicts.filter((v) => v.ajv !== v.generated)).toEqual([]);
  });

  it('are not used for a schema that differs from the one they were built from', async () => {
    const { precompiledCheck } = (await import(
      pathToFileURL(join(repo, 'dist/engine/schema/precompiled.js')).href
    )) as typeof import('../../engine/schema/precompiled.js');
    expect(precompiledCheck(recipeSchema)).toBeTypeOf('function');
    const edited = { ...recipeSchema, description: 'edited after the build' };
    expect(precompiledCheck(edited)).toBeUndefined();
  });
});
