/**
 * The recipe document (apiVersion lsbackup/v1) as TypeScript: generated from
 * schemas/recipe.schema.json into engine/shapes/recipe.generated.ts (npm run gen:shapes), so the
 * two cannot drift (npm run check:shapes fails the build when they do).
 */
import type { CollectStep, CommandStep, FilesStep, Recipe } from '../shapes/recipe.generated.js';
export type { BecomeSetting, CollectStep, CommandStep, FilesStep, HostSelection, OnError, Recipe } from '../shapes/recipe.generated.js';

export type Step = CommandStep | CollectStep | FilesStep;

/** A recipe as loaded: the parsed document plus where it came from. */
export interface LoadedRecipe {
  recipe: Recipe;
  file: string;
  /** sha256 of the file's bytes, recorded in metadata. */
  digest: string;
  /** The raw YAML text (kept for restore: the backup carries the recipe that made it). */
  source: string;
}
