import { link, mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadRunConfig } from '../../app/config.js';
import { openCommandRun } from '../../app/context.js';
import { runRecipeTest, type RecipeTestFlags } from '../../app/recipe-test.js';
import { ExitCode, isLsError, LsError } from '../../errors.js';
import type { Redactor } from '../../secrets/types.js';
import { packageRoot } from '../../paths.js';
import { RECIPE_NAME, recipeSkeleton } from '../../recipes/skeleton.js';
import { errorEvent, printJsonEvents } from '../../report/json-lines.js';

export interface RecipeInitOptions {
  group?: string;
  output?: string;
  json?: boolean;
}

/** `lsbackup recipe init <name>`: a commented recipe skeleton that validates as written, at <dir>/<name>.yaml. */
export async function recipeInitCommand(name: string, options: RecipeInitOptions, redactor: Redactor): Promise<number> {
  if (!RECIPE_NAME.test(name)) {
    throw new LsError('EUSAGE', { message: `recipe name '${name}' is not a lowercase slug (letters, digits and single '-', e.g. 'my-cache')` });
  }
  const dir = path.resolve(options.output ?? '.');
  const file = path.join(dir, `${name}.yaml`);
  const schema = path.join(packageRoot, 'schemas', 'recipe.schema.json');
  // Relative inside the lsbackup tree (the modeline survives a move of the checkout), else absolute.
  const schemaPath = dir.startsWith(packageRoot + path.sep) ? path.relative(dir, schema) : schema;
  const text = recipeSkeleton({ name, group: options.group ?? name, schemaPath });
  // Written whole under a temporary name, then linked: the final name never holds half a file
  // and an existing recipe is never overwritten (link fails with EEXIST).
  const temp = path.join(dir, `.${name}.yaml.${process.pid}.tmp`);
  // A new folder of one's own recipes is the usual -o (`-o my-recipes && lsbackup validate my-recipes`).
  await mkdir(dir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST' || e.code === 'ENOTDIR') throw new LsError('EUSAGE', { message: `${dir} is not a directory: choose another -o directory` });
    throw e;
  });
  try {
    await writeFile(temp, text, { flag: 'wx' });
    await link(temp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new LsError('EUSAGE', { message: `${file} already exists: choose another name or -o directory` });
    throw e;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  if (options.json) printJsonEvents([{ type: 'recipe.init', file }], redactor);
  else process.stderr.write(`wrote ${file}\n`);
  return ExitCode.ok;
}

/** `lsbackup recipe test <recipe> -b <inventory>`: the recipe's round trip, stage by stage; the result line on stdout. */
export async function recipeTestCommand(file: string, options: RecipeTestFlags, redactor: Redactor): Promise<number> {
  const config = await loadRunConfig(options);
  const run = await openCommandRun(options.json, redactor);
  let result;
  try {
    result = await runRecipeTest(file, options, config, run);
  } finally {
    run.close();
  }
  // The verdict last, after the stages' lines (the JSON stream's stage events say it already;
  // an invalid recipe ends it with the error event every command prints for one).
  if (options.json) {
    if (result.failed && isLsError(result.failed.cause)) printJsonEvents([errorEvent(result.failed.cause, result.exitCode)], redactor);
  } else {
    const verdict = result.failed
      ? `recipe test ${result.recipe}: FAILED at ${result.failed.stage}: ${result.failed.error}`
      : `recipe test ${result.recipe}: PASSED (${result.passed.join(', ')})`;
    process.stdout.write(redactor.redact(verdict) + (result.keptTarget ? `\nthe test backup is in ${result.keptTarget}` : '') + '\n');
  }
  return result.exitCode;
}
