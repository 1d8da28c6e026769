import Handlebars from 'handlebars';
import { KNOWN_HELPERS } from './environment.js';

type Node = hbs.AST.Node;
type Expression = hbs.AST.Expression;

/** One thing a template refers to, found by reading its source (no rendering). */
export type TemplateReference =
  /** A value looked up on the root context, e.g. `vars.config_dir` -> ['vars', 'config_dir']. */
  | { kind: 'path'; parts: string[]; text: string; loc: TemplatePosition }
  /** A helper call, e.g. `join`, `secret`; `bare` when written with no arguments (`{{join}}`), which renders as a variable lookup. */
  | { kind: 'helper'; name: string; bare: boolean; loc: TemplatePosition }
  /**
   * `{{secret "NAME"}}` or `{{secret "NAME" optional=true}}`; name is undefined when the call is
   * not exactly one string literal with at most `optional=true|false`.
   */
  | { kind: 'secret'; name: string | undefined; optional: boolean; loc: TemplatePosition }
  /** `@index`, `@key` ... */
  | { kind: 'data'; name: string; loc: TemplatePosition }
  /** Partials and decorators: never allowed in recipes. */
  | { kind: 'unsupported'; what: string; loc: TemplatePosition };

/** 1-based line, 0-based column inside the template text (Handlebars' convention). */
export interface TemplatePosition {
  line: number;
  column: number;
}

/** Block helpers that change `this`: paths inside them are relative to an item we cannot see statically. */
const CONTEXT_CHANGING_BLOCKS = new Set(['each', 'with']);

export function parseTemplate(text: string): hbs.AST.Program {
  return Handlebars.parse(text);
}

/** Every reference in a parsed template, in source order. */
export function templateReferences(program: hbs.AST.Program): TemplateReference[] {
  const found: TemplateReference[] = [];
  const at = (node: Node): TemplatePosition => ({ line: node.loc.start.line, column: node.loc.start.column });

  // scopeDepth: how many context-changing blocks enclose us; blockParams: `as |x|` names in scope.
  const walkProgram = (program: hbs.AST.Program | undefined, scopeDepth: number, blockParams: Set<string>): void => {
    if (!program) return;
    for (const statement of program.body) walkStatement(statement, scopeDepth, blockParams);
  };

  const walkCall = (node: hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression, scopeDepth: number, blockParams: Set<string>): void => {
    const path = node.path as Expression;
    // `{{secret}}` without arguments is still (a wrong) call to a helper, not a variable.
    const namesHelper = path.type === 'PathExpression' && KNOWN_HELPERS.has((path as hbs.AST.PathExpression).original);
    const isCall = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0 || node.type !== 'MustacheStatement' || namesHelper;
    if (path.type === 'PathExpression' && isCall) {
      const name = (path as hbs.AST.PathExpression).original;
      if (name === 'secret') {
        const [arg] = node.params;
        const pairs = node.hash?.pairs ?? [];
        const optionalPair = pairs.find((p) => p.key === 'optional');
        const wellFormed = node.params.length === 1 && pairs.every((p) => p.key === 'optional' && p.value.type === 'BooleanLiteral');
        const literal = arg?.type === 'StringLiteral' && wellFormed ? (arg as hbs.AST.StringLiteral).value : undefined;
        const optional = optionalPair?.value.type === 'BooleanLiteral' && (optionalPair.value as hbs.AST.BooleanLiteral).value;
        found.push({ kind: 'secret', name: literal, optional, loc: at(node) });
      } else {
        const bare = node.type === 'MustacheStatement' && node.params.length === 0 && (node.hash?.pairs.length ?? 0) === 0;
        found.push({ kind: 'helper', name, bare, loc: at(path) });
      }
    } else {
      walkExpression(path, scopeDepth, blockParams);
    }
    for (const param of node.params) walkExpression(param, scopeDepth, blockParams);
    for (const pair of node.hash?.pairs ?? []) walkExpression(pair.value, scopeDepth, blockParams);
  };

  const walkExpression = (expression: Expression, scopeDepth: number, blockParams: Set<string>): void => {
    if (expression.type === 'SubExpression') return walkCall(expression as hbs.AST.SubExpression, scopeDepth, blockParams);
    if (expression.type !== 'PathExpression') return; // literals
    const path = expression as hbs.AST.PathExpression;
    if (path.data) {
      if (path.parts[0] === 'root') found.push({ kind: 'path', parts: path.parts.slice(1), text: path.original, loc: at(path) });
      else found.push({ kind: 'data', name: path.parts[0] ?? '', loc: at(path) });
      return;
    }
    if (path.parts.length === 0) return; // `this`
    if (path.depth === 0 && blockParams.has(path.parts[0])) return;
    // Only paths that resolve against the root context can be checked without data.
    if (scopeDepth - path.depth === 0) found.push({ kind: 'path', parts: path.parts, text: path.original, loc: at(path) });
  };

  const walkStatement = (statement: hbs.AST.Statement, scopeDepth: number, blockParams: Set<string>): void => {
    switch (statement.type) {
      case 'MustacheStatement':
        return walkCall(statement as hbs.AST.MustacheStatement, scopeDepth, blockParams);
      case 'BlockStatement': {
        const block = statement as hbs.AST.BlockStatement;
        walkCall(block, scopeDepth, blockParams);
        const changesContext = CONTEXT_CHANGING_BLOCKS.has(block.path.original);
        const innerParams = new Set([...blockParams, ...(block.program?.blockParams ?? [])]);
        walkProgram(block.program, changesContext ? scopeDepth + 1 : scopeDepth, innerParams);
        walkProgram(block.inverse, scopeDepth, blockParams);
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        found.push({ kind: 'unsupported', what: 'partials', loc: at(statement) });
        return;
      case 'Decorator':
      case 'DecoratorBlock':
        found.push({ kind: 'unsupported', what: 'decorators', loc: at(statement) });
        return;
      default:
        return; // content, comments
    }
  };

  walkProgram(program, 0, new Set());
  return found;
}

/** Names of the secrets a template uses, so they can be resolved (asynchronously) before rendering. */
export function secretNames(template: string): string[] {
  return namesOfSecrets(template, () => true);
}

/** Names of the secrets a template cannot do without (used without `optional=true`). */
export function requiredSecretNames(template: string): string[] {
  return namesOfSecrets(template, (ref) => !ref.optional);
}

function namesOfSecrets(template: string, include: (ref: Extract<TemplateReference, { kind: 'secret' }>) => boolean): string[] {
  const names = new Set<string>();
  for (const ref of templateReferences(parseTemplate(template))) {
    if (ref.kind === 'secret' && ref.name !== undefined && include(ref)) names.add(ref.name);
  }
  return [...names];
}
