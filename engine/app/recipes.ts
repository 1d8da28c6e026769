import path from 'node:path';
import type { Config } from '../config/load.js';
import { bundledRecipesDir } from '../paths.js';
import { loadRecipes } from '../recipes/index.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { varOverrides, type VarOverrides } from '../recipes/var-overrides.js';
import { refuseUnknownNames } from '../recipes/selection.js';

/** Recipe paths from the command line, else the config, else the bundled recipes. */
export async function loadRunRecipes(paths: string[], config: Config): Promise<LoadedRecipe[]> {
  const chosen = paths.length > 0 ? paths.map((p) => path.resolve(p)) : (config.recipes ?? [bundledRecipesDir]);
  return loadRecipes(chosen);
}

/** Per-component var overrides: config `components.vars`, then `--var component.key=value`, checked against the recipes. */
export function runVarOverrides(config: Config, cliVars: string[] | undefined, recipes: readonly LoadedRecipe[] | undefined): VarOverrides {
  return varOverrides(config.components?.vars, cliVars, recipes, config.file);
}

/** --only/--skip (or components.only/skip) of apply and plan name recipes (engine/recipes/selection.ts). */
export function refuseUnknownRecipes(recipes: readonly LoadedRecipe[], selection: { only?: string[]; skip?: string[] }): void {
  const names = [...new Set(recipes.map((r) => r.recipe.metadata.name))].sort();
  refuseUnknownNames(names, selection, {
    only: '--only (components.only)',
    skip: '--skip (components.skip)',
    absent: 'is not one of the recipes',
    listed: 'the recipes',
  });
}
