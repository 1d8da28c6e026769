import Handlebars from 'handlebars';
import type { TemplatePosition } from './references.js';

/** A template that does not parse, said for its author: what is wrong, where in the template, and the fix. */
export interface TemplateSyntaxError {
  message: string;
  hint: string;
  loc: TemplatePosition;
}

/** The lexer Handlebars' generated parser leaves where it stopped (it is not in the library's types). */
interface StoppedLexer {
  matched: string;
  match: string;
}

const TEMPLATES_DOC = 'docs/recipes.md, Templates';

/**
 * Why `text` failed `Handlebars.parse`, from the `error` it threw. The parser's own message is
 * a grammar dump ("Expecting 'CLOSE_RAW_BLOCK', 'CLOSE', … got 'INVALID'") with a position only
 * inside a 20-character excerpt; this names the mustache or block at fault and where it starts.
 * Call it right after the failed parse: the position is read from the parser's lexer, which the
 * next parse resets.
 */
export function templateSyntaxError(error: unknown, text: string): TemplateSyntaxError {
  const message = String((error as Error).message);
  const exception = error as { lineNumber?: number; column?: number };
  if (typeof exception.lineNumber === 'number' && typeof exception.column === 'number') {
    // Handlebars' own checks ("each doesn't match if - 2:5") know the node at fault.
    const what = message.replace(/ - \d+:\d+$/, '');
    const mismatch = /^(\S+) doesn't match (\S+)$/.exec(what);
    return {
      message: mismatch ? `'{{/${mismatch[2]}}}' closes the block '{{#${mismatch[1]}}}'` : what,
      hint: mismatch ? `close each block with its own name: {{#${mismatch[1]}}}…{{/${mismatch[1]}}}` : TEMPLATES_DOC,
      loc: { line: exception.lineNumber, column: exception.column },
    };
  }
  const lexer = (Handlebars as unknown as { Parser: { lexer: StoppedLexer } }).Parser.lexer;
  const stoppedAt = Math.min(text.length, Math.max(0, lexer.matched.length - lexer.match.length));
  const grammar = /Expecting (.*), got '([^']+)'$/.exec(message);
  const expected = new Set(grammar?.[1]?.split(', ').map((t) => t.slice(1, -1)));
  const got = grammar?.[2];
  let opener = text.lastIndexOf('{{', stoppedAt);
  while (opener > 0 && text[opener - 1] === '{') opener -= 1; // the first brace of a '{{{'
  const at = (offset: number) => positionAt(text, offset);

  if (message.startsWith('Lexical error')) {
    const start = opener >= 0 ? opener : stoppedAt;
    if (text.startsWith('{{!--', start) || text.startsWith('{{~!--', start)) {
      return { message: "the comment '{{!--' is not closed", hint: "end it with '--}}'", loc: at(start) };
    }
    return { message: `text Handlebars cannot read at ${quoteExcerpt(text, stoppedAt)}`, hint: TEMPLATES_DOC, loc: at(stoppedAt) };
  }
  if (got === 'EOF' && expected.has('OPEN_ENDBLOCK')) {
    const block = unclosedBlock(text);
    if (block) return { message: `the block '{{#${block.name}' is never closed`, hint: `end it with {{/${block.name}}}`, loc: at(block.offset) };
  }
  const braces = (offset: number) => (text.startsWith('{{{', offset) ? '{{{' : '{{');
  if ((got === 'CLOSE_UNESCAPED' && expected.has('CLOSE')) || (got === 'CLOSE' && expected.has('CLOSE_UNESCAPED'))) {
    const open = braces(opener);
    const close = got === 'CLOSE_UNESCAPED' ? '}}}' : '}}';
    return {
      message: `the mustache opened with '${open}' is closed with '${close}'`,
      hint: 'use two braces on both sides, {{value}} (one shell-quoted word), or three, {{{value}}} (inserted raw)',
      loc: at(opener),
    };
  }
  if ((got === 'INVALID' || got === 'EOF') && opener >= 0 && (expected.has('CLOSE') || expected.has('CLOSE_UNESCAPED'))) {
    const close = braces(opener) === '{{{' ? '}}}' : '}}';
    return {
      message: `the mustache '${braces(opener)}' is not closed with '${close}' (stopped at ${quoteExcerpt(text, stoppedAt)})`,
      hint: `end it with '${close}' after the name, e.g. ${braces(opener)}vars.name${close}`,
      loc: at(opener),
    };
  }
  const found = got === 'EOF' ? 'the end of the template' : quoteExcerpt(text, stoppedAt);
  return { message: `unexpected ${found} in a mustache`, hint: TEMPLATES_DOC, loc: at(stoppedAt) };
}

/** The innermost block opened and not closed: a stack over `{{#name` and `{{/name`. */
function unclosedBlock(text: string): { name: string; offset: number } | undefined {
  const open: { name: string; offset: number }[] = [];
  for (const tag of text.matchAll(/\{\{~?\s*([#/])\*?\s*([^\s}~()]+)/g)) {
    if (tag[1] === '#') open.push({ name: tag[2]!, offset: tag.index });
    else open.pop();
  }
  return open.at(-1);
}

/** A few characters of the template from `offset`, quoted, for a message. */
function quoteExcerpt(text: string, offset: number): string {
  const rest = text.slice(offset).split('\n')[0]!;
  return rest === '' ? 'the end of the line' : `'${rest.length > 12 ? rest.slice(0, 12) + '…' : rest}'`;
}

/** 1-based line, 0-based column of an offset (Handlebars' convention, as TemplatePosition). */
function positionAt(text: string, offset: number): TemplatePosition {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length };
}
