import Handlebars from 'handlebars';
import { hostTemporary, removeOnExit } from './host-temp.js';
import { shellQuote } from './quote.js';
import type { ShellPlace } from './shell-context.js';
import type { TemplateContext } from './context.js';
import { didYouMean } from '../schema/closest.js';

/**
 * The one Handlebars environment recipes render in. Every `{{x}}` is rewritten (render.ts)
 * into `{{{quote x}}}` and every `{{{x}}}` into `{{{raw x}}}`, so quoting is done by our
 * helpers and the shared Handlebars.Utils.escapeExpression is never touched.
 */
export const handlebars = Handlebars.create();

/** Render-time data passed as Handlebars `data` (not visible as template paths). */
export interface RenderData {
  /** true: values become single shell words; false: values are inserted verbatim (env values, entry names). */
  shell: boolean;
  secrets: Map<string, string>;
}

/** Thrown by helpers; render.ts turns it into LsError ETEMPLATE with recipe/step/host (and `spot`, the mustache's place in the template, when known). */
export class TemplateValueError extends Error {
  constructor(
    message: string,
    readonly spot?: { line: number; column: number },
  ) {
    super(message);
  }
}

type Options = Handlebars.HelperOptions & { data: { root: unknown } & RenderData };

/** Helpers recipe authors may call (plus the built-ins below). */
export const AUTHOR_HELPERS = ['secret', 'default', 'join', 'glob', 'json', 'eq', 'ne', 'and', 'or', 'not', 'tempDir', 'tempFile', 'removeOnExit'] as const;
export const BUILTIN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup'] as const;
/** Inserted by the rewrite, not meant to be written by authors (but harmless). */
const INTERNAL_HELPERS = ['quote', 'raw'] as const;
export const KNOWN_HELPERS: ReadonlySet<string> = new Set([...AUTHOR_HELPERS, ...BUILTIN_HELPERS]);

export const knownHelpersOption: Record<string, boolean> = Object.fromEntries(
  [...AUTHOR_HELPERS, ...BUILTIN_HELPERS, ...INTERNAL_HELPERS].map((name) => [name, true]),
);

const options = (args: unknown[]): Options => args[args.length - 1] as Options;
const values = (args: unknown[]): unknown[] => args.slice(0, -1);

function words(value: unknown, shell: boolean, quote: (text: string) => string = shellQuote): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => (shell ? quote(String(item)) : String(item)));
}

/** A path pattern as one shell word: its `*` and `?` left for the shell to expand, everything else quoted. */
function globWord(pattern: string): string {
  if (pattern === '') return shellQuote(pattern);
  return pattern
    .split(/([*?])/)
    .map((piece) => (piece === '*' || piece === '?' || piece === '' ? piece : shellQuote(piece)))
    .join('');
}

/** What `join` and `glob` insert: their items, each one word where quoting works (kept for the places where it does not). */
class Words extends handlebars.SafeString {
  constructor(
    readonly items: string[],
    shell: boolean,
    quote?: (text: string) => string,
  ) {
    super(words(items, shell, quote).join(' '));
  }
}

/** What `secret` inserts in a command: a reference to the environment variable that carries it. */
class SecretReference extends handlebars.SafeString {
  constructor(readonly variable: string) {
    super(`"$${variable}"`);
  }
}

const PLACES: Record<Exclude<ShellPlace, 'word'>, { where: string; fix: string }> = {
  'double-quotes': { where: 'inside "…"', fix: 'write it outside the quotes, e.g. "no file "{{REF}}" here"' },
  'single-quotes': { where: "inside '…'", fix: "write it outside the quotes, e.g. 'no file '{{REF}}' here'" },
  backquotes: { where: 'inside `…`', fix: 'use $(…) instead of `…`' },
  arithmetic: { where: 'inside $((…))', fix: 'give it a whole number' },
  parameter: { where: 'inside ${…}', fix: 'assign it to a variable first (v={{REF}}) and use "$v"' },
  comment: { where: 'in a # comment', fix: 'leave it out of the comment' },
  'here-document': { where: 'in a here-document', fix: 'assign it to a variable before the here-document (v={{REF}}) and write $v in it' },
  unknown: { where: 'where its quoting cannot be told', fix: 'write it as a word of its own' },
};

/**
 * A value where single quotes do not quote (shell-context.ts): inserted only as words that need
 * no quoting (whole numbers in arithmetic), else the render fails naming the place and the fix.
 * A secret inside "…" is its variable, `${NAME}`.
 */
function insertionOutsideWord(value: unknown, ref: string, place: Exclude<ShellPlace, 'word'>, at: unknown, root: unknown): string {
  const { where, fix } = PLACES[place];
  const [line, column] = String(at).split(':').map(Number) as [number, number];
  const refuse = (what: string) =>
    new TemplateValueError(`'${ref}' stands ${where} in this command, where shell quoting does not work, and ${what}: ${fix.replaceAll('REF', ref)}`, {
      line,
      column,
    });
  if (value instanceof SecretReference) {
    if (place === 'double-quotes') return `\${${value.variable}}`;
    throw refuse('a secret is never written out');
  }
  if (value instanceof handlebars.SafeString && !(value instanceof Words)) throw refuse('it writes shell lines');
  let items: string[];
  if (value instanceof Words) items = value.items;
  else {
    insertion(value, ref, false, root); // a missing value or an object fails as anywhere else
    items = words(value, false);
  }
  const plain = (item: string) => (place === 'arithmetic' ? /^-?[0-9]+$/.test(item) : item === '' || shellQuote(item) === item);
  // The value is not repeated: it may be long, and a part of a secret is not masked.
  if (!items.every(plain))
    throw refuse(place === 'arithmetic' ? 'its value is not a whole number' : 'its value needs quoting (a space, a quote, $, a glob character…)');
  return items.join(' ');
}

/** A value's text for insertion; undefined/null/objects are errors, never silently "". */
function insertion(value: unknown, ref: string, shell: boolean, root: unknown): string {
  if (value instanceof handlebars.SafeString) return value.toString();
  if (value === null && ref.startsWith('vars.')) {
    // A recipe var left empty (`name:` or `name: null`) is one the run must set.
    const name = ref.slice('vars.'.length);
    throw new TemplateValueError(
      `'${ref}' has no value: the recipe leaves it empty for the run to set (--var <recipe>.${name}=<value>, or components.<recipe>.vars.${name} in the config)`,
    );
  }
  if (value === undefined || value === null) throw new TemplateValueError(`'${ref}' is not defined${whereToDefine(ref, root)}`);
  if (typeof value === 'object' && !Array.isArray(value)) {
    throw new TemplateValueError(`'${ref}' is an object; use {{json ${ref}}} to insert it as JSON`);
  }
  return words(value, shell).join(' ');
}

/**
 * Where a missing inventory value would come from, and the fix: the host's inventory variables
 * and the inventory's groups are the run's, which validate cannot know.
 */
function whereToDefine(ref: string, root: unknown): string {
  const [top, map, name, ...deeper] = ref.split('.');
  if (name === undefined || deeper.length > 0) return '';
  const context = root as Partial<TemplateContext> | undefined;
  if (top === 'host' && map === 'vars') {
    const near = didYouMean(name, Object.keys(context?.host?.vars ?? {}));
    return (
      `: the inventory gives this host no variable '${name}'${near ? ` (${near})` : ''}; set it there, ` +
      `or write {{default ${ref} "<fallback>"}}, or declare it in spec.vars with a default and use {{vars.${name}}}`
    );
  }
  if (top === 'inventory' && map === 'groups') {
    const near = didYouMean(name, Object.keys(context?.inventory?.groups ?? {}));
    return `: the inventory has no group '${name}'${near ? ` (${near})` : ''}; test for it with {{#if ${ref}}}…{{/if}} where it may be missing`;
  }
  return '';
}

for (const name of ['log', 'blockHelperMissing', 'helperMissing']) handlebars.unregisterHelper(name);

handlebars.registerHelper({
  quote(value: unknown, opts: Options) {
    const place = (opts.hash.place ?? 'word') as ShellPlace;
    if (opts.data.shell && place !== 'word') return insertionOutsideWord(value, String(opts.hash.ref), place, opts.hash.at, opts.data.root);
    return insertion(value, String(opts.hash.ref), opts.data.shell, opts.data.root);
  },
  raw(value: unknown, opts: Options) {
    return insertion(value, String(opts.hash.ref), false, opts.data.root);
  },
  /**
   * In a command (shell mode) a secret becomes a reference to an environment variable that the
   * runner passes with the step, so the value is never on a command line `ps` would show. Where
   * text is inserted verbatim (env values, names) it is the value itself.
   */
  secret(name: unknown, opts: Options) {
    // optional=true: a secret no source has is empty (e.g. a password only some installs set).
    const value = opts.data.secrets.get(String(name)) ?? (opts.hash.optional === true ? '' : undefined);
    if (value === undefined) throw new TemplateValueError(`secret '${String(name)}' was not resolved`);
    return opts.data.shell ? new SecretReference(secretEnvName(String(name))) : value;
  },
  default(...args: unknown[]) {
    const [value, fallback] = values(args);
    return value === undefined || value === null || value === '' ? fallback : value;
  },
  /** Each item as its own shell word, separated by spaces. */
  join(...args: unknown[]) {
    const [list] = values(args);
    return new Words(words(list ?? [], false), options(args).data.shell);
  },
  /** Each item a path pattern whose `*` and `?` expand on the host; nothing else of it is read by the shell. */
  glob(...args: unknown[]) {
    const [list] = values(args);
    return new Words(words(list ?? [], false), options(args).data.shell, globWord);
  },
  json(value: unknown) {
    return JSON.stringify(value);
  },
  /** Shell lines that make a temporary directory into the variable named, removed however the step ends (host-temp.ts). */
  tempDir(name: unknown, opts: Options) {
    return shellLines(opts, 'tempDir', () =>
      hostTemporary(recipeVariable(name), 'directory', 'echo "lsbackup: cannot make a temporary directory (mktemp -d)" >&2; exit 1'),
    );
  },
  /** The same for a temporary file. */
  tempFile(name: unknown, opts: Options) {
    return shellLines(opts, 'tempFile', () =>
      hostTemporary(recipeVariable(name), 'file', 'echo "lsbackup: cannot make a temporary file (mktemp)" >&2; exit 1'),
    );
  },
  /** Shell lines after which the paths the variables named hold are removed however the step ends. */
  removeOnExit(...args: unknown[]) {
    return shellLines(options(args), 'removeOnExit', () => removeOnExit(...values(args).map(recipeVariable)));
  },
  eq: (a: unknown, b: unknown) => a === b,
  ne: (a: unknown, b: unknown) => a !== b,
  and: (...args: unknown[]) => values(args).every(Boolean),
  or: (...args: unknown[]) => values(args).some(Boolean),
  not: (value: unknown) => !value,
});

/** Lines of shell for a command (never for env values or names, which are not run). */
function shellLines(opts: Options, helper: string, lines: () => string[]): Handlebars.SafeString {
  if (!opts.data.shell) throw new TemplateValueError(`{{${helper}}} writes shell lines: use it in a step's run command`);
  try {
    return new handlebars.SafeString(lines().join('\n'));
  } catch (e) {
    throw new TemplateValueError(`{{${helper}}}: ${(e as Error).message}`);
  }
}

/** A recipe's own shell variable: `lsb_` names are lsbackup's (its wrappers use them around the command). */
function recipeVariable(name: unknown): string {
  const text = String(name);
  if (/^lsb_/i.test(text)) throw new TemplateValueError(`'${text}': variables starting with lsb_ are lsbackup's own; name it otherwise`);
  return text;
}

/** The environment variable that carries secret `name` into a command. */
export function secretEnvName(name: string): string {
  return `LSB_SECRET_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}
