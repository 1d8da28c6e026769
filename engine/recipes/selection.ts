/**
 * --only and --skip (or a config's components.only/skip) name recipes: a misspelt name would back
 * up what the operator excluded — a `--skip kafak` still runs kafka's steps, which stop each broker
 * in turn — or leave out what they chose, with a run that says success. Refused before anything runs.
 */
import { LsError } from '../errors.js';
import { didYouMean } from '../schema/closest.js';
import type { LoadedRecipe } from './types.js';

export function refuseUnknownSelection(recipes: LoadedRecipe[], selection: { only?: string[]; skip?: string[] }): void {
  const names = [...new Set(recipes.map((r) => r.recipe.metadata.name))].sort();
  for (const [flag, given] of [
    ['--only (components.only)', selection.only],
    ['--skip (components.skip)', selection.skip],
  ] as const) {
    const unknown = (given ?? []).find((name) => !names.includes(name));
    if (unknown === undefined) continue;
    const hint = didYouMean(unknown, names);
    throw new LsError('EUSAGE', { message: `${flag} names '${unknown}', which is not one of the recipes${hint ? ` (${hint})` : ''}: ${names.join(', ')}` });
  }
}
