import path from 'node:path';
import { authoringProblems, validateRecipes } from '../../recipes/index.js';
import { ExitCode, formatProblem, invalid, type Problem } from '../../errors.js';
import { errorEvent, printJsonEvents, problemRecord } from '../../report/json-lines.js';
import { bundledRecipesDir } from '../../paths.js';
import { watchAndRerun } from '../watch.js';
import type { Redactor } from '../../secrets/types.js';
import { shellcheckRecipes, type ShellcheckFinding, type ShellcheckSeverity } from '../../recipes/shellcheck.js';

export interface ValidateOptions {
  json?: boolean;
  watch?: boolean;
  /** Also lint every rendered command with shellcheck (engine/recipes/shellcheck.ts). */
  shellcheck?: boolean;
  shellcheckSeverity?: ShellcheckSeverity;
}

/** `lsbackup validate [paths...]`: every problem of every recipe at once, file:line:col. Runs nothing. */
export async function validateCommand(paths: string[], options: ValidateOptions, redactor: Redactor): Promise<number> {
  const chosen = paths.length > 0 ? paths.map((p) => path.resolve(p)) : [bundledRecipesDir];
  if (options.watch) return watchAndRerun({ paths: chosen, run: () => validateOnce(chosen, options, redactor), json: options.json, redactor });
  return validateOnce(chosen, options, redactor);
}

async function validateOnce(chosen: string[], options: ValidateOptions, redactor: Redactor): Promise<number> {
  const { recipes, problems: found } = await validateRecipes(chosen);
  const problems = [...found, ...authoringProblems(recipes)];
  const findings = options.shellcheck ? await shellcheckRecipes(recipes, options.shellcheckSeverity ?? 'warning') : [];
  report(
    recipes.map((r) => `${r.recipe.metadata.name}@${r.recipe.metadata.version}`),
    problems,
    findings,
    options,
    redactor,
  );
  return problems.length > 0 || findings.length > 0 ? ExitCode.config : ExitCode.ok;
}

function report(valid: string[], problems: Problem[], findings: ShellcheckFinding[], options: ValidateOptions, redactor: Redactor): void {
  if (options.json) {
    // One event per shellcheck finding, the result, then (problems or findings) the failure as every command reports one.
    const lint = findings.map(({ col, ...f }) => ({ type: 'shellcheck' as const, ...f, column: col }));
    const shellcheck = options.shellcheck ? { shellcheck: { severity: options.shellcheckSeverity ?? 'warning', findings: findings.length } } : {};
    const all = [...problems, ...findings.map((f) => ({ file: f.file, line: f.line, col: f.col, message: `${f.code} (${f.level}): ${f.message}` }))];
    const failure = all.length > 0 ? [errorEvent(invalid('Recipes', all), ExitCode.config)] : [];
    const result = { type: 'validate.result' as const, valid: all.length === 0, recipes: valid, problems: problems.map(problemRecord), ...shellcheck };
    printJsonEvents([...lint, result, ...failure], redactor);
    return;
  }
  for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
  for (const f of findings) process.stderr.write(`${formatProblem({ ...f, message: `${f.code} (${f.level}): ${f.message}` })} ${f.wiki}\n`);
  const total = problems.length + findings.length;
  if (total > 0) {
    const parts = [
      problems.length > 0 && `${problems.length} problem${problems.length > 1 ? 's' : ''}`,
      findings.length > 0 && `${findings.length} shellcheck finding${findings.length > 1 ? 's' : ''}`,
    ];
    process.stderr.write(`${parts.filter(Boolean).join(' and ')} found; nothing was run.\n`);
  } else {
    process.stdout.write(
      `OK: ${valid.length} recipe${valid.length === 1 ? '' : 's'} valid (${valid.join(', ')})${options.shellcheck ? ', shellcheck clean' : ''}\n`,
    );
  }
}
