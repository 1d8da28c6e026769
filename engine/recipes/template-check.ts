import { isScalar, Scalar } from 'yaml';
import type { Problem } from '../errors.js';
import { didYouMean, nodeAt, parseYaml, positionOf, type DataPath, type Position, type YamlSource } from '../schema/index.js';
import { KNOWN_HELPERS } from '../template/environment.js';
import { TEMPLATE_NAMES } from '../template/context.js';
import { templateSyntaxError } from '../template/syntax-error.js';
import { parseTemplate, templateReferences, type TemplatePosition, type TemplateReference } from '../template/references.js';
import { lifecycle, type Operation } from './lifecycle.js';
import type { Recipe } from './types.js';

const templateNames = Object.entries(TEMPLATE_NAMES).flatMap(([top, names]) => Object.entries(names).map(([name, kind]) => ({ name: `${top}.${name}`, kind })));
/** Names a template may use exactly. */
const FIXED_NAMES = templateNames.filter((n) => n.kind === 'exact').map((n) => n.name);
/** Names a template may use and look inside (`host.vars.anything`, `inventory.groups.kafka`). */
const OPEN_NAMES = templateNames.filter((n) => n.kind === 'open').map((n) => n.name);
const DATA_VARIABLES = new Set(['index', 'key', 'first', 'last']);

/** Every phase of the lifecycle, as [section of spec, phase]. */
const PHASES = (Object.keys(lifecycle) as Operation[]).flatMap((operation) => lifecycle[operation].map((phase) => [operation, phase.name] as const));

/** Every templated string of a recipe with its path in the document. */
export function templatedStrings(recipe: Recipe): { path: DataPath; text: string }[] {
  const found: { path: DataPath; text: string }[] = [];
  const add = (path: DataPath, value: unknown) => {
    if (typeof value === 'string') found.push({ path, text: value });
  };
  add(['spec', 'detect'], recipe.spec.detect);
  add(['spec', 'version'], recipe.spec.version);
  const env: unknown = recipe.spec.env;
  if (typeof env === 'object' && env !== null) for (const [name, value] of Object.entries(env)) add(['spec', 'env', name], value);
  for (const [section, phase] of PHASES) {
    // Walked defensively: a recipe the schema refused is still checked (load.ts reports both).
    const steps = (recipe.spec[section] as Record<string, unknown> | undefined)?.[phase];
    if (!Array.isArray(steps)) continue;
    steps.forEach((step: unknown, i) => {
      if (typeof step !== 'object' || step === null) return;
      const at = (...rest: (string | number)[]) => ['spec', section, phase, i, ...rest];
      const s = step as Record<string, unknown>;
      for (const key of ['run', 'output', 'input', 'files', 'when']) add(at(key), s[key]);
      if (typeof s.env === 'object' && s.env !== null) for (const [name, value] of Object.entries(s.env)) add(at('env', name), value);
      if (Array.isArray(s.path)) s.path.forEach((p, j) => add(at('path', j), p));
      else add(at('path'), s.path);
      if (Array.isArray(s.exclude)) s.exclude.forEach((p, j) => add(at('exclude', j), p));
    });
  }
  return found;
}

/** Position in the file of a spot inside a templated YAML string (exact for one-line and block scalars). */
export function positionInString(source: YamlSource, path: DataPath, spot: TemplatePosition): Position {
  const start = positionOf(source, path);
  const node = nodeAt(source, path);
  if (!isScalar(node)) return start;
  const type = (node as Scalar).type;
  if (type === Scalar.BLOCK_FOLDED) return positionInFolded(source, start.line, String((node as Scalar).value), spot);
  if (type === Scalar.BLOCK_LITERAL) {
    const line = start.line + spot.line;
    const indent = /^ */.exec(source.text.split('\n')[line - 1] ?? '')![0].length;
    return { line, col: indent + spot.column + 1 };
  }
  if (spot.line !== 1) return start;
  const quote = type === Scalar.QUOTE_DOUBLE || type === Scalar.QUOTE_SINGLE ? 1 : 0;
  return { line: start.line, col: start.col + quote + spot.column };
}

/**
 * A `>` block joins its lines with spaces, so a spot in the value's text is found on its source
 * line by laying each source line (its indentation removed) over the value in order.
 */
function positionInFolded(source: YamlSource, headerLine: number, value: string, spot: TemplatePosition): Position {
  const valueLines = value.split('\n');
  const offset = valueLines.slice(0, spot.line - 1).reduce((sum, l) => sum + l.length + 1, 0) + spot.column;
  const lines = source.text.split('\n');
  const blockIndent = /^ */.exec(lines.slice(headerLine).find((l) => l.trim() !== '') ?? '')![0].length;
  let found: Position = { line: headerLine + 1, col: blockIndent + 1 };
  let cursor = 0;
  for (let line = headerLine + 1; line <= lines.length; line++) {
    const text = lines[line - 1]!;
    if (text.trim() === '') continue;
    if (/^ */.exec(text)![0].length < blockIndent) break;
    const content = text.slice(blockIndent);
    const at = value.indexOf(content, cursor);
    if (at < 0) break;
    if (offset < at) break;
    found = { line, col: blockIndent + Math.min(offset - at, content.length) + 1 };
    cursor = at + content.length;
  }
  return found;
}

function checkPath(parts: string[], declaredVars: Set<string>): { message: string; hint?: string } | undefined {
  const name = parts.join('.');
  const head = parts.slice(0, 2).join('.');
  if (parts[0] === 'vars') {
    if (parts.length > 1 && declaredVars.has(parts[1])) return undefined;
    return {
      message: `template uses '${name}' but spec.vars does not declare '${parts[1] ?? ''}'`,
      hint:
        didYouMean(
          head,
          [...declaredVars].map((v) => `vars.${v}`),
        ) ?? 'declare it with a default under spec.vars',
    };
  }
  if (FIXED_NAMES.includes(name) || OPEN_NAMES.some((open) => name === open || name.startsWith(open + '.'))) return undefined;
  const candidates = [...FIXED_NAMES, ...OPEN_NAMES, ...[...declaredVars].map((v) => `vars.${v}`)];
  return {
    message: `unknown template variable '${name}'`,
    hint: didYouMean(head, candidates) ?? 'templates see host.*, vars.*, inventory.*, backup.* and recipe.*',
  };
}

function checkReference(ref: TemplateReference, declaredVars: Set<string>): { message: string; hint?: string } | undefined {
  switch (ref.kind) {
    case 'path':
      return checkPath(ref.parts, declaredVars);
    case 'helper':
      if (!KNOWN_HELPERS.has(ref.name)) {
        return { message: `unknown template helper '${ref.name}'`, hint: didYouMean(ref.name, KNOWN_HELPERS) ?? `helpers: ${[...KNOWN_HELPERS].join(', ')}` };
      }
      // Rendered, `{{join}}` looks up a variable named join and fails on every host as "not defined".
      return ref.bare
        ? { message: `template helper '${ref.name}' is called without arguments`, hint: `give it its arguments: docs/recipes.md, Templates` }
        : undefined;
    case 'secret':
      return ref.name !== undefined
        ? undefined
        : {
            message: 'secret takes exactly one quoted name, and optionally optional=true',
            hint: 'e.g. {{secret "PG_PASSWORD"}} or {{secret "PG_PASSWORD" optional=true}}',
          };
    case 'data':
      return DATA_VARIABLES.has(ref.name) ? undefined : { message: `unknown data variable '@${ref.name}'`, hint: didYouMean(ref.name, DATA_VARIABLES) };
    case 'unsupported':
      return { message: `${ref.what} are not supported in recipe templates` };
  }
}

/** Step keys whose value names an archive entry or a host path (or, for exclude, lands on tar's command line). */
const NAMING_KEYS = new Set(['output', 'input', 'path', 'exclude', 'files']);

/**
 * A secret there would end up in entry names (metadata.json, the archive's listing) or on a
 * command line: names are data and are never masked, so the secret would be stored in clear.
 */
function checkSecretPlace(ref: TemplateReference, path: DataPath): { message: string; hint?: string } | undefined {
  const key = path[4];
  if (ref.kind !== 'secret' || typeof key !== 'string' || !NAMING_KEYS.has(key)) return undefined;
  return {
    message: `a secret cannot be used in '${key}': it would become part of file and entry names, which are stored unmasked`,
    hint: 'use a fixed name; pass the secret to the command with {{secret "NAME"}} in run or env',
  };
}

/** The static template check: every reference in every templated string must be visible to recipes. */
export function checkRecipeTemplates(recipe: Recipe, source: YamlSource): Problem[] {
  const vars = recipe.spec.vars;
  const declaredVars = new Set(typeof vars === 'object' && vars !== null ? Object.keys(vars) : []);
  const problems: Problem[] = [];
  for (const { path, text } of templatedStrings(recipe)) {
    let references: TemplateReference[];
    try {
      references = templateReferences(parseTemplate(text));
    } catch (error) {
      const { message, hint, loc } = templateSyntaxError(error, text);
      problems.push({ file: source.file, ...positionInString(source, path, loc), message: `template syntax error: ${message}`, hint });
      continue;
    }
    for (const ref of references) {
      const problem = checkReference(ref, declaredVars) ?? checkSecretPlace(ref, path);
      if (problem) problems.push({ file: source.file, ...positionInString(source, path, ref.loc), ...problem });
    }
  }
  return problems;
}

/**
 * Where in the recipe file a template that failed to render (at plan time, with the run's values)
 * is: the spot the error knows (the mustache a value could not be inserted at), else the reference the error names (`'vars.dir' is not defined`) when it can be found in the
 * template, else the template's start; undefined when the text is not one of the recipe's
 * templated strings.
 */
export function templateErrorSite(
  file: string,
  sourceText: string,
  recipe: Recipe,
  template: string,
  message: string,
  known?: TemplatePosition,
): { file: string; line: number; col: number } | undefined {
  const found = templatedStrings(recipe).find((t) => t.text === template);
  if (!found) return undefined;
  const { source } = parseYaml(file, sourceText);
  const named = /^'([^']+)'/.exec(message)?.[1];
  let spot = known;
  try {
    spot ??= templateReferences(parseTemplate(template)).find((r) => r.kind === 'path' && r.parts.join('.') === named)?.loc;
  } catch {
    // A template that does not parse has no references to point at.
  }
  const at = spot ? positionInString(source, found.path, spot) : positionOf(source, found.path);
  return { file, line: at.line, col: at.col };
}
