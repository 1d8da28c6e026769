import path from 'node:path';
import { validateRecipes } from '../../recipes/index.js';
import { ExitCode, formatProblem, invalid, type Problem } from '../../errors.js';
import { errorEvent, printJsonEvents, problemRecord } from '../../report/json-lines.js';
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
  if (options.watch) return watchAndRerun({ paths: chosen, run: () => validateOnce(chosen, options, redactor), json: options.json, redactor });
  return validateOnce(chosen, options, redactor);
}

async function validateOnce(chosen: string[], options: ValidateOptions, redactor: Redactor): Promise<number> {
  const { recipes, problems } = await validateRecipes(chosen);
  report(
    recipes.map((r) => `${r.recipe.metadata.name}@${r.recipe.metadata.version}`),
    problems,
    options,
    redactor,
  );
  return problems.length > 0 ? ExitCode.config : ExitCode.ok;
}

function report(valid: string[], problems: Problem[], options: ValidateOptions, redactor: Redactor): void {
  if (options.json) {
    // The result, then (invalid) the failure as every command reports one.
    const failure = problems.length > 0 ? [errorEvent(invalid('Recipes', problems), ExitCode.config)] : [];
    printJsonEvents([{ type: 'validate.result', valid: problems.length === 0, recipes: valid, problems: problems.map(problemRecord) }, ...failure], redactor);
    return;
  }
  for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
  if (problems.length > 0) {
    process.stderr.write(`${problems.length} problem${problems.length > 1 ? 's' : ''} found; nothing was run.\n`);
  } else {
    process.stdout.write(`OK: ${valid.length} recipe${valid.length === 1 ? '' : 's'} valid (${valid.join(', ')})\n`);
  }
}
