import { LsError } from '../errors.js';
import type { RenderSite, TemplateContext } from './context.js';
import { handlebars, knownHelpersOption, TemplateValueError, type RenderData } from './environment.js';
import { parseTemplate } from './references.js';
import { shellPlaces, type ShellPlace } from './shell-context.js';

type Program = hbs.AST.Program;
type Statement = hbs.AST.Statement;

export interface RenderOptions {
  /**
   * true (default): every `{{x}}` becomes exactly one shell word (commands, paths).
   * false: values are inserted verbatim (env values, archive entry names, `when`).
   */
  shell?: boolean;
}

const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** Source text of a mustache's expression, e.g. `vars.dir` or `secret "PW"`, for error messages. */
function expressionText(node: hbs.AST.MustacheStatement): string {
  const source = (e: hbs.AST.Expression): string => {
    if (e.type === 'StringLiteral') return JSON.stringify((e as hbs.AST.StringLiteral).value);
    if (e.type === 'SubExpression') {
      const sub = e as hbs.AST.SubExpression;
      return `(${[sub.path, ...sub.params].map(source).join(' ')})`;
    }
    return String((e as hbs.AST.PathExpression).original);
  };
  return [node.path, ...node.params].map(source).join(' ');
}

/**
 * `{{x}}` -> `{{{quote x ref="x" place="word"}}}`, `{{{x}}}` -> `{{{raw x ref="x"}}}`, recursively;
 * `place` is where in a shell command the mustache stands (shell-context.ts).
 */
function rewrite(program: Program, placeAt: (loc: hbs.AST.SourceLocation) => ShellPlace): Program {
  const body = program.body.map((statement): Statement => {
    if (statement.type === 'MustacheStatement') {
      const node = statement as hbs.AST.MustacheStatement;
      const loc = node.loc;
      const isCall = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
      const value = isCall ? { type: 'SubExpression', path: node.path, params: node.params, hash: node.hash, loc } : node.path;
      const helper = node.escaped ? 'quote' : 'raw';
      const literal = (key: string, text: string) => ({ type: 'HashPair', key, loc, value: { type: 'StringLiteral', value: text, original: text, loc } });
      return {
        ...node,
        path: { type: 'PathExpression', data: false, depth: 0, parts: [helper], original: helper, loc },
        params: [value],
        hash: {
          type: 'Hash',
          loc,
          pairs: [
            literal('ref', expressionText(node)),
            literal('place', placeAt(loc)),
            literal('at', `${node.path.loc.start.line}:${node.path.loc.start.column}`),
          ],
        },
        escaped: false,
      } as unknown as hbs.AST.MustacheStatement;
    }
    if (statement.type === 'BlockStatement') {
      const block = statement as hbs.AST.BlockStatement;
      const inner = (p: Program | undefined) => p && rewrite(p, placeAt);
      return { ...block, program: inner(block.program), inverse: inner(block.inverse) } as hbs.AST.BlockStatement;
    }
    return statement;
  });
  return { ...program, body };
}

function compile(template: string): Handlebars.TemplateDelegate {
  let fn = compiled.get(template);
  if (!fn) {
    const places = shellPlaces(template);
    const lineStarts = [0];
    for (let i = template.indexOf('\n'); i >= 0; i = template.indexOf('\n', i + 1)) lineStarts.push(i + 1);
    const placeAt = (loc: hbs.AST.SourceLocation): ShellPlace => places.get(lineStarts[loc.start.line - 1]! + loc.start.column) ?? 'unknown';
    fn = handlebars.compile(rewrite(parseTemplate(template), placeAt) as unknown as string, {
      strict: true,
      knownHelpersOnly: true,
      knownHelpers: knownHelpersOption,
    });
    compiled.set(template, fn);
  }
  return fn;
}

/**
 * Render a recipe template. Substitutions are shell-quoted unless `{{{raw}}}` or
 * `options.shell === false`. Throws LsError ETEMPLATE naming recipe, step, host and what was missing.
 */
export function renderTemplate(template: string, context: TemplateContext, where: RenderSite, options: RenderOptions = {}): string {
  const { secrets, ...visible } = context;
  const data: RenderData = { shell: options.shell ?? true, secrets };
  try {
    return compile(template)(visible, { data });
  } catch (error) {
    const message = error instanceof TemplateValueError ? error.message : `cannot render template ${JSON.stringify(template)}: ${(error as Error).message}`;
    const spot = error instanceof TemplateValueError ? error.spot : undefined;
    throw new LsError('ETEMPLATE', { ...where, message, ...(spot ? { spot } : {}) }, { cause: error });
  }
}
