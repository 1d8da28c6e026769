/**
 * Every shell command of a recipe rendered without a cluster (the recipe's var defaults,
 * placeholders for host vars, inventory groups and secrets), each rendered line knowing the
 * template line it came from, so a finding in the rendered text (shellcheck's) points back at
 * the recipe file. Used by `lsbackup validate --shellcheck` (engine/recipes/shellcheck.ts).
 */
import { isLsError } from '../errors.js';
import type { DataPath, Position, YamlSource } from '../schema/index.js';
import { parseTemplate, renderTemplate, secretNames, templateReferences, type TemplateContext } from '../template/index.js';
import type { TemplatePosition } from '../template/references.js';
import { positionInString, templatedStrings } from './template-check.js';
import type { LoadedRecipe } from './types.js';

export const PLACEHOLDER = 'placeholder';
const PLACEHOLDER_HOST = 'placeholder-host';

export interface RenderedCommand {
  /** Where the template is in the recipe document, e.g. ['spec', 'backup', 'snapshot', 0, 'run']. */
  path: DataPath;
  /** The command as it would run (every `{{value}}` one shell word). */
  text: string;
  /** Per rendered line (0-based index): the template line (1-based) it came from, when known. */
  templateLines: (number | undefined)[];
  /** The template's own text, for mapping columns. */
  template: string;
}

/** Keys of the recipe document whose templates are shell commands. */
const COMMAND_KEYS = new Set(['run', 'detect', 'version']);

/**
 * Marks the start of every template line with its number: plain text to Handlebars, so a
 * `{{#if}}` left out or an `{{#each}}` repeated carries the right numbers along.
 */
const mark = (line: number) => `\uE000${line}\uE001`;
const MARK = /\uE000(\d+)\uE001/g;

/** The recipe's commands rendered with placeholders; a template that does not render is left out (validate reports it). */
export function renderedCommands(loaded: LoadedRecipe): RenderedCommand[] {
  const found: RenderedCommand[] = [];
  for (const { path, text } of templatedStrings(loaded.recipe)) {
    if (!COMMAND_KEYS.has(String(path[path.length - 1]))) continue;
    const rendered = renderMarked(loaded, text);
    if (rendered) found.push({ path, template: text, ...rendered });
  }
  return found;
}

function renderMarked(loaded: LoadedRecipe, template: string): Omit<RenderedCommand, 'path' | 'template'> | undefined {
  const context = placeholderContext(loaded, template);
  const where = { recipe: loaded.recipe.metadata.name, step: 'shellcheck', host: PLACEHOLDER_HOST };
  const marked = template
    .split('\n')
    .map((line, i) => mark(i + 1) + line)
    .join('\n');
  let output: string;
  try {
    output = renderTemplate(marked, context, where);
  } catch (error) {
    if (!isLsError(error)) throw error;
    // A mark inside a mustache that spans lines: render unmarked, every line maps to the first.
    try {
      output = mark(1) + renderTemplate(template, context, where);
    } catch (again) {
      if (isLsError(again)) return undefined;
      throw again;
    }
  }
  const templateLines: (number | undefined)[] = [];
  let current: number | undefined;
  const lines = output.split('\n').map((line) => {
    const first = /^\uE000(\d+)\uE001/.exec(line);
    if (first) current = Number(first[1]);
    templateLines.push(current);
    return line.replace(MARK, '');
  });
  return { text: lines.join('\n'), templateLines };
}

/** What a template sees with no cluster: var defaults, and a placeholder for anything from the inventory or a secret. */
function placeholderContext(loaded: LoadedRecipe, template: string): TemplateContext {
  const { recipe } = loaded;
  const hostVars: Record<string, unknown> = {};
  const groups: Record<string, string[]> = {};
  const components: Record<string, boolean> = { [recipe.metadata.name]: true };
  for (const group of ([] as string[]).concat(recipe.spec.hosts.group)) groups[group] = [PLACEHOLDER_HOST];
  for (const ref of safeReferences(template)) {
    if (ref.kind !== 'path') continue;
    const [top, middle, name] = ref.parts;
    if (top === 'host' && middle === 'vars' && name !== undefined) hostVars[name] = PLACEHOLDER;
    if (top === 'inventory' && middle === 'groups' && name !== undefined) groups[name] ??= [PLACEHOLDER_HOST];
    // A component the template asks about is taken as part of the run: its branch is the one checked.
    if (top === 'run' && middle === 'components' && name !== undefined) components[name] = true;
  }
  return {
    host: { name: PLACEHOLDER_HOST, address: '192.0.2.1', port: 22, user: PLACEHOLDER, groups: Object.keys(groups), vars: hostVars },
    vars: { ...(recipe.spec.vars ?? {}) },
    inventory: { groups, hosts: [PLACEHOLDER_HOST] },
    backup: { id: '00000000-0000-4000-8000-000000000000', time: '2000-01-01T00:00:00.000Z', timestamp: 946684800000 },
    recipe: { name: recipe.metadata.name, version: recipe.metadata.version },
    run: { components },
    secrets: new Map(secretNames(template).map((name) => [name, PLACEHOLDER])),
  };
}

function safeReferences(template: string) {
  try {
    return templateReferences(parseTemplate(template));
  } catch {
    return []; // a syntax error: validate reports it
  }
}

/** The recipe file position of a spot (1-based line and column) in a rendered command. */
export function recipePosition(source: YamlSource, command: RenderedCommand, line: number, column: number): Position {
  const templateLine = command.templateLines[line - 1] ?? 1;
  const renderedLine = command.text.split('\n')[line - 1] ?? '';
  const templateText = command.template.split('\n')[templateLine - 1] ?? '';
  const spot: TemplatePosition = { line: templateLine, column: templateColumn(templateText, renderedLine, column - 1) };
  return positionInString(source, command.path, spot);
}

const MUSTACHE = /\{\{\{[\s\S]*?\}\}\}|\{\{[\s\S]*?\}\}/g;

/**
 * The 0-based column in a template line of a 0-based column in its rendered line: the text
 * between mustaches is found in order in the rendered line; a column inside what a mustache
 * rendered maps to where that mustache begins.
 */
export function templateColumn(templateLine: string, renderedLine: string, column: number): number {
  let searchFrom = 0;
  let templateAt = 0;
  let lastMustache = 0;
  const pieces: { literal: string; at: number; mustacheAt?: number }[] = [];
  for (const m of templateLine.matchAll(MUSTACHE)) {
    pieces.push({ literal: templateLine.slice(templateAt, m.index), at: templateAt, mustacheAt: m.index });
    templateAt = m.index + m[0].length;
  }
  pieces.push({ literal: templateLine.slice(templateAt), at: templateAt });
  for (const piece of pieces) {
    if (piece.literal) {
      const found = renderedLine.indexOf(piece.literal, searchFrom);
      if (found < 0) break;
      if (column < found) return lastMustache;
      if (column < found + piece.literal.length) return piece.at + (column - found);
      searchFrom = found + piece.literal.length;
    }
    if (piece.mustacheAt !== undefined) lastMustache = piece.mustacheAt;
  }
  return lastMustache;
}
