import { LsError } from '../errors.js';
import type { RenderSite, TemplateContext } from './context.js';
import { handlebars, knownHelpersOption, TemplateValueError, type RenderData } from './environment.js';
import { parseTemplate } from './references.js';

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

/** `{{x}}` -> `{{{quote x ref="x"}}}`, `{{{x}}}` -> `{{{raw x ref="x"}}}`, recursively. */
function rewrite(program: Program): Program {
  const body = program.body.map((statement): Statement => {
    if (statement.type === 'MustacheStatement') {
      const node = statement as hbs.AST.MustacheStatement;
      const loc = node.loc;
      const isCall = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
      const value = isCall ? { type: 'SubExpression', path: node.path, params: node.params, hash: node.hash, loc } : node.path;
      const helper = node.escaped ? 'quote' : 'raw';
      const ref = expressionText(node);
      return {
        ...node,
        path: { type: 'PathExpression', data: false, depth: 0, parts: [helper], original: helper, loc },
        params: [value],
        hash: { type: 'Hash', loc, pairs: [{ type: 'HashPair', key: 'ref', loc, value: { type: 'StringLiteral', value: ref, original: ref, loc } }] },
        escaped: false,
      } as unknown as hbs.AST.MustacheStatement;
    }
    if (statement.type === 'BlockStatement') {
      const block = statement as hbs.AST.BlockStatement;
      return { ...block, program: block.program && rewrite(block.program), inverse: block.inverse && rewrite(block.inverse) } as hbs.AST.BlockStatement;
    }
    return statement;
  });
  return { ...program, body };
}

function compile(template: string): Handlebars.TemplateDelegate {
  let fn = compiled.get(template);
  if (!fn) {
    fn = handlebars.compile(rewrite(parseTemplate(template)) as unknown as string, {
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
    throw new LsError('ETEMPLATE', { ...where, message }, { cause: error });
  }
}
