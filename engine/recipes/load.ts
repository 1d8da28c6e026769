import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid, type Problem } from '../errors.js';
import { readCapped, tooLargeProblem } from '../input-limits.js';
import { parseAndValidate, positionOf, prevalidatedValue, type YamlSource } from '../schema/index.js';
import { recipeSchema } from './schema.js';
import { uncollectedFilesProblems, unwrittenInputProblems } from './entry-check.js';
import { checkRecipeTemplates } from './template-check.js';
import { appliesToProblem } from './versions.js';
import type { LoadedRecipe, Recipe } from './types.js';

const RECIPE_FILE = /\.ya?ml$/;

/** Recipe files named by `paths`: files as given, directories searched recursively for *.yaml / *.yml. */
async function recipeFiles(paths: string[]): Promise<{ files: string[]; problems: Problem[] }> {
  const files: string[] = [];
  const problems: Problem[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) problems.push({ file: path, message: 'no such file or directory' });
    else if (info.isDirectory()) {
      const entries = await readdir(path, { recursive: true, withFileTypes: true });
      const found = entries.filter((e) => e.isFile() && RECIPE_FILE.test(e.name)).map((e) => join(e.parentPath ?? e.path, e.name));
      files.push(...found.sort());
    } else files.push(path);
  }
  return { files: [...new Set(files)], problems };
}

/** Load one file: schema problems and template problems, all of them. */
async function loadFile(file: string): Promise<{ loaded?: LoadedRecipe; problems: Problem[] }> {
  const read = await readCapped(file, 'recipe');
  if (read.problem) return { problems: [read.problem] };
  return parseRecipe(file, read.bytes);
}

/**
 * Validate one recipe from its bytes (a file, or the copy a backup archive carries).
 * `file` is the name used in problems and recorded as the recipe's origin.
 */
export function parseRecipe(file: string, bytes: Buffer): { loaded?: LoadedRecipe; problems: Problem[] } {
  const tooLarge = tooLargeProblem(file, 'recipe', bytes.length);
  if (tooLarge) return { problems: [tooLarge] };
  const text = bytes.toString('utf8');
  const digest = createHash('sha256').update(bytes).digest('hex');
  const shipped = prevalidatedValue<Recipe>('recipe', digest);
  if (shipped) return { loaded: { recipe: shipped, file, digest, source: text }, problems: [] };
  const { value, source, problems } = parseAndValidate<Recipe>(file, text, recipeSchema);
  if (!value) {
    // Schema errors do not hide template errors: one pass reports both (YAML errors leave nothing to check).
    const parsed: unknown = source.doc.errors.length === 0 ? valuesOf(source) : undefined;
    const more = looksLikeRecipe(parsed) ? templateProblems(parsed, source) : [];
    return { problems: [...problems, ...more].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)) };
  }
  const found = templateProblems(value, source);
  if (found.length) return { problems: found };
  return { loaded: { recipe: value, file, digest, source: text }, problems: [] };
}

/** Template problems, an unparsable `appliesTo` range and inputs no backup step writes. */
function templateProblems(recipe: Recipe, source: YamlSource): Problem[] {
  const problems = [...checkRecipeTemplates(recipe, source), ...unwrittenInputProblems(recipe, source)];
  const range = recipe.metadata?.appliesTo;
  const rangeProblem = typeof range === 'string' ? appliesToProblem(range) : undefined;
  if (rangeProblem) problems.push({ file: source.file, ...positionOf(source, ['metadata', 'appliesTo']), message: rangeProblem });
  return problems;
}

/** The document's values; undefined when it cannot give them (an alias bomb: the schema error already says so). */
function valuesOf(source: YamlSource): unknown {
  try {
    return source.doc.toJS();
  } catch {
    return undefined;
  }
}

/** A document the template check can walk although the schema refused it: a mapping with a `spec` mapping. */
function looksLikeRecipe(doc: unknown): doc is Recipe {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  return isMap(doc) && isMap(doc.spec);
}

/** Two files defining the same name+version is ambiguous: point at both. Different versions may coexist. */
function duplicateProblems(recipes: LoadedRecipe[]): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, LoadedRecipe>();
  for (const loaded of recipes) {
    const { name, version } = loaded.recipe.metadata;
    const key = `${name}@${version}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, loaded);
      continue;
    }
    for (const [here, other] of [
      [first, loaded],
      [loaded, first],
    ]) {
      const { source } = parseAndValidate<Recipe>(here.file, here.source, recipeSchema);
      problems.push({
        file: here.file,
        ...positionOf(source, ['metadata', 'name']),
        message: `recipe '${name}' version ${version} is also defined in ${other.file}`,
        hint: 'bump metadata.version in one of them',
      });
    }
  }
  return problems;
}

/** Validate recipes without throwing (for `lsbackup validate`): every problem of every file. */
export async function validateRecipes(paths: string[]): Promise<{ recipes: LoadedRecipe[]; problems: Problem[] }> {
  const { files, problems } = await recipeFiles(paths);
  if (files.length === 0 && problems.length === 0) problems.push({ file: paths.join(', '), message: 'no recipe files (*.yaml, *.yml) found' });
  const results = await Promise.all(files.map(loadFile));
  const recipes = results.flatMap((r) => (r.loaded ? [r.loaded] : []));
  problems.push(...results.flatMap((r) => r.problems), ...duplicateProblems(recipes));
  return { recipes, problems };
}

/**
 * What `validate` and `recipe test` refuse but a run does not: a recipe already backing up a
 * cluster goes on backing it up (stopping would lose backups; a restore lacking data says what to
 * do), and a backup carries its recipe, which restores that backup when it holds the data.
 */
export function authoringProblems(recipes: LoadedRecipe[]): Problem[] {
  return recipes.flatMap((l) => uncollectedFilesProblems(l.recipe, () => parseAndValidate<Recipe>(l.file, l.source, recipeSchema).source));
}

/** Load and validate recipes; throws LsError EINVALID listing all problems of all files. */
export async function loadRecipes(paths: string[]): Promise<LoadedRecipe[]> {
  const { recipes, problems } = await validateRecipes(paths);
  if (problems.length) throw invalid('Recipes', problems);
  return recipes;
}
