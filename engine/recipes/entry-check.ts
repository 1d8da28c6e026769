import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';
import type { Recipe } from './types.js';

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
