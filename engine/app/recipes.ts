import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar } from 'yaml';
import type { Config } from '../config/load.js';
import { bundledRecipesDir } from '../paths.js';
import { loadRecipes } from '../recipes/index.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { varOverrides, type VarOverrides } from '../recipes/var-overrides.js';
import { refuseUnknownNames } from '../recipes/selection.js';
import { parseYaml, positionOf, type DataPath } from '../schema/index.js';

/** Recipe paths from the command line, else the config, else the bundled recipes. */
export async function loadRunRecipes(paths: string[], config: Config): Promise<LoadedRecipe[]> {
  const chosen = paths.length > 0 ? paths.map((p) => path.resolve(p)) : (config.recipes ?? [bundledRecipesDir]);
  return loadRecipes(chosen);
}

/** Per-component var overrides: config `components.vars`, then `--var component.key=value`, checked against the recipes. */
export function runVarOverrides(config: Config, cliVars: string[] | undefined, recipes: readonly LoadedRecipe[] | undefined): VarOverrides {
  return varOverrides(config.components?.vars, cliVars, recipes, config.file, config.file ? configVarSite(config.file) : undefined);
}

/**
 * Where the config file sets a component's var (a job's `components`, else the top level's), for
 * a var only the loaded recipes show to be wrong. Read again only then.
 */
function configVarSite(file: string): (component: string, name: string) => { line: number; col: number } | undefined {
  return (component, name) => {
    let source;
    try {
      source = parseYaml(file, readFileSync(file, 'utf8')).source;
    } catch {
      return undefined;
    }
    const jobs = source.doc.get('jobs');
    const jobNames = isMap(jobs) ? jobs.items.map((pair) => String(isScalar(pair.key) ? pair.key.value : pair.key)) : [];
    const candidates: DataPath[] = [...jobNames.map((job) => ['jobs', job, 'components', 'vars', component, name]), ['components', 'vars', component, name]];
    const found = candidates.find((p) => source.doc.hasIn(p));
    return found && positionOf(source, found, 'key');
  };
}

/**
 * --only/--skip (or components.only/skip) of apply and plan name recipes (engine/recipes/selection.ts);
 * `given` says how the selection was given (a job's names only its config keys).
 */
export function refuseUnknownRecipes(
  recipes: readonly LoadedRecipe[],
  selection: { only?: string[]; skip?: string[] },
  given = { only: '--only (components.only)', skip: '--skip (components.skip)' },
): void {
  const names = [...new Set(recipes.map((r) => r.recipe.metadata.name))].sort();
  refuseUnknownNames(names, selection, {
    ...given,
    absent: 'is not one of the recipes',
    listed: 'the recipes',
  });
}
