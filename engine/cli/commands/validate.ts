import path from 'node:path';
import { validateRecipes } from '../../recipes/index.js';
import { formatProblem, type Problem } from '../../errors.js';
import { bundledRecipesDir } from '../../paths.js';
import { watchAndRerun } from '../watch.js';
import type { Redactor } from '../../secrets/types.js';

export interface ValidateOptions {
  json?: boolean;
  watch?: boolean;
}

/** `lsbackup validate [paths...]`: every problem of every recipe at once, file:line:col. Runs nothing. */
export async function validateCommand(paths: string[], options: ValidateOptions, redactor: Redactor): Promise<number> {
  const chosen = paths.length > 0 ? paths.map((p) => path.resolve(p)) : [bundledRecipesDir];
  if (options.watch) return watchAndRerun({ paths: chosen, run: () => validateOnce(chosen, options), json: options.json, redactor });
  return validateOnce(chosen, options);
}

async function validateOnce(chosen: string[], options: ValidateOptions): Promise<number> {
  const { recipes, problems } = await validateRecipes(chosen);
  report(
    recipes.map((r) => `${r.recipe.metadata.name}@${r.recipe.metadata.version}`),
    problems,
    options,
  );
  return problems.length > 0 ? 78 : 0;
}

function report(valid: string[], problems: Problem[], options: ValidateOptions): void {
  if (options.json) {
    process.stdout.write(JSON.stringify({ valid: problems.length === 0, recipes: valid, problems }) + '\n');
    return;
  }
  for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
  if (problems.length > 0) {
    process.stderr.write(`${problems.length} problem${problems.length > 1 ? 's' : ''} found; nothing was run.\n`);
  } else {
    process.stdout.write(`OK: ${valid.length} recipe${valid.length === 1 ? '' : 's'} valid (${valid.join(', ')})\n`);
  }
}
