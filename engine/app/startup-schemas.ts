/**
 * The schemas a run checks before it does anything: recipes, the config, target plugin options,
 * and metadata.json as read back (every incremental run, list, show, verify and restore reads it).
 * scripts/build-validators.mjs compiles each into a standalone validator at build time, so a
 * start-up that finds nothing wrong neither loads nor runs Ajv's compiler (engine/schema/validate.ts).
 * It lives here, above the modules that own the schemas, because engine/schema/ is below them:
 * they use its validator, so it must not import them.
 */
import { recipeSchema } from '../recipes/schema.js';
import { configSchema } from '../config/load.js';
import { targetOptionsSchemas } from '../../targets/registry.js';
import { profileSchema } from '../profiles/load.js';
import { metadataReadSchema } from '../archive/read-metadata.js';

export const startupSchemas: { $id: string }[] = [recipeSchema, configSchema, profileSchema, metadataReadSchema, ...targetOptionsSchemas.values()];
