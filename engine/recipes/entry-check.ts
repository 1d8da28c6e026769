import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';
import type { Recipe } from './types.js';
import { ownValue } from '../own.js';

/** A mustache, `{{…}}` or `{{{…}}}`: what a rendered entry name may hold there is unknown. */
const MUSTACHE = /\{\{\{?[^}]*\}?\}\}/g;

/**
 * A restore step's `input` that no backup step writes (`output`): the backup succeeds without
 * the data (a snapshot step without `output` sends its stdout nowhere) and every restore fails.
 * Checked where it can be known without rendering: a literal input against every output, a
 * templated one only when the recipe has no output at all. `optional: true` inputs are left
 * alone (an entry an older version of the recipe wrote, or a var turned off).
 */
export function unwrittenInputProblems(recipe: Recipe, source: YamlSource): Problem[] {
  const backupSteps = stepsOf(recipe.spec.backup);
  // An output that is not a string is the schema's problem; which entry it meant is unknown.
  if (backupSteps.some(({ step }) => step.output !== undefined && typeof step.output !== 'string')) return [];
  const outputs = backupSteps.flatMap(({ step }) => (typeof step.output === 'string' ? [step.output] : []));
  const problems: Problem[] = [];
  for (const { phase, index, step } of stepsOf(recipe.spec.restore)) {
    const input = step.input;
    if (typeof input !== 'string' || step.optional === true) continue;
    const templated = input.includes('{{');
    if (templated ? outputs.length > 0 : outputs.some((output) => entryNamePattern(output).test(entryName(input)))) continue;
    problems.push({
      file: source.file,
      ...positionOf(source, ['spec', 'restore', phase, index, 'input']),
      message: `input '${input}' is an entry no backup step writes: ${
        outputs.length ? `the backup steps' outputs are ${outputs.map((o) => `'${o}'`).join(', ')}` : 'no backup step has an output'
      }`,
      hint: `give the backup step whose stdout this is 'output: ${input}' (a step without output sends its stdout nowhere), or correct the name`,
    });
  }
  return problems;
}

/** Every step of a backup or restore section with its phase and index, walked defensively (the schema may have refused the recipe). */
function stepsOf(section: unknown): { phase: string; index: number; step: Record<string, unknown> }[] {
  if (typeof section !== 'object' || section === null) return [];
  return Object.entries(section).flatMap(([phase, steps]) =>
    Array.isArray(steps)
      ? steps.flatMap((step: unknown, index) => (typeof step === 'object' && step !== null ? [{ phase, index, step: step as Record<string, unknown> }] : []))
      : [],
  );
}

/** An entry name as the archive stores it (engine/runner/entry-paths.ts): no empty or '.' parts. */
function entryName(name: string): string {
  return name
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

/** The names an output template can render to: its literal text, anything where a mustache stands. */
function entryNamePattern(output: string): RegExp {
  const parts = entryName(output).split(MUSTACHE);
  return new RegExp(`^${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}

/**
 * A restore `files:` step without `optional: true` (or `onError: continue`) whose path no collect
 * step saves, or only optional ones do: where the path was missing, the backup succeeded without it and every
 * restore of it is refused (engine/restore/missing-step-data.ts). Paths are compared as the
 * templates are written, each `{{vars.x}}` as its default: a collect path at, above or below
 * the files path saves data for it. A path whose relation to the files path cannot be told
 * without rendering (another template value, a glob, several words, a block) leaves the step alone.
 */
export function uncollectedFilesProblems(recipe: Recipe, source: () => YamlSource): Problem[] {
  const defaults = recipe.spec.vars ?? {};
  const collects = stepsOf(recipe.spec.backup)
    .filter(({ phase }) => phase === 'collect')
    .flatMap(({ index, step }) =>
      (Array.isArray(step.path) ? step.path : [step.path]).map((path: unknown) => ({ index, path, optional: step.optional === true })),
    );
  const problems: Problem[] = [];
  let parsed: YamlSource | undefined;
  for (const { phase, index, step } of stepsOf(recipe.spec.restore)) {
    // A step allowed to fail (onError: continue) is one the restore goes on after, as its plan says.
    if (typeof step.files !== 'string' || step.optional === true || step.onError === 'continue') continue;
    const files = pathParts(step.files, defaults);
    if (!files) continue;
    const saving = collects.map((c) => ({ ...c, relation: typeof c.path === 'string' ? relation(pathParts(c.path, defaults), files) : 'unknown' }));
    if (saving.some((c) => c.relation === 'unknown' || (c.relation === 'overlaps' && !c.optional))) continue;
    const optional = saving.filter((c) => c.relation === 'overlaps');
    parsed ??= source();
    const at = { file: parsed.file, ...positionOf(parsed, ['spec', 'restore', phase, index, 'files']) };
    if (optional.length) {
      problems.push({
        ...at,
        message: `files step puts back ${shownPath(step.files, defaults)}, which only optional collect steps save (${optional.map((c) => `spec.backup.collect[${c.index}]`).join(', ')}): a backup where the path was missing succeeds, and its restore is refused`,
        hint: "give this files step 'optional: true' too, or make the collect step not optional",
      });
    } else {
      const paths = collects.map((c) => (typeof c.path === 'string' ? shownPath(c.path, defaults) : `'${String(c.path)}'`));
      problems.push({
        ...at,
        message: `files step puts back ${shownPath(step.files, defaults)}, under which no collect step saves anything: ${paths.length ? `the collect paths are ${paths.join(', ')}` : 'the backup has no collect step'}`,
        hint: 'collect the path in spec.backup.collect, or correct it',
      });
    }
  }
  return problems;
}

/** A path template with each `{{vars.x}}` as its default (a string or number). */
function withDefaults(template: string, defaults: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{\{\{?\s*vars\.([A-Za-z0-9_]+)\s*\}?\}\}/g, (mustache, name: string) => {
    const value = ownValue(defaults, name);
    return typeof value === 'string' || typeof value === 'number' ? String(value) : mustache;
  });
}

/** A path template's components, vars as their defaults; undefined when it is not one plain path (words, quotes, a glob, a block). */
function pathParts(template: string, defaults: Readonly<Record<string, unknown>>): string[] | undefined {
  const text = withDefaults(template, defaults);
  const outside = text.replace(MUSTACHE, '');
  if (/[\s'"`$\\*?[\]]/.test(outside) || /\{\{\{?\s*(?:[#/^>!]|else\b)/.test(text)) return undefined;
  return text.split('/').filter((p) => p !== '' && p !== '.');
}

/** A path as the recipe writes it, and as the vars' defaults render it when that differs. */
function shownPath(template: string, defaults: Readonly<Record<string, unknown>>): string {
  const rendered = withDefaults(template, defaults);
  return rendered === template ? `'${template}'` : `'${template}' ('${rendered}' by the vars' defaults)`;
}

/** Whether a collect path saves something under the files path: at it, above it or below it. */
function relation(collect: string[] | undefined, files: string[]): 'overlaps' | 'apart' | 'unknown' {
  if (!collect) return 'unknown';
  for (let i = 0; i < Math.min(collect.length, files.length); i++) {
    if (collect[i] === files[i]) continue;
    // Two different mustaches, or one against literal text, may still render alike.
    return MUSTACHE_IN.test(collect[i]!) || MUSTACHE_IN.test(files[i]!) ? 'unknown' : 'apart';
  }
  return 'overlaps';
}

const MUSTACHE_IN = /\{\{/;
