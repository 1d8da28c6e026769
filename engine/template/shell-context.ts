/**
 * Where in the shell command a template's mustaches stand. A `{{value}}` is made one shell word
 * by single-quoting it, which protects it only where the shell reads quotes: as a word of its
 * own, or part of one, outside any quoting. Inside "…", `…`, $((…)), a comment or a here-document
 * the quotes are literal characters and a `$(…)` in the value would run, so there the value is
 * inserted only when it needs no quoting (environment.ts). This finds each mustache's place by
 * reading the template's own text as sh would (the mustaches themselves count as word
 * characters); a place it cannot tell is never taken for a word.
 */

/** A place a value can stand in a command. Only 'word' takes any value; 'unknown': not found by reading the text. */
export type ShellPlace = 'word' | 'double-quotes' | 'single-quotes' | 'backquotes' | 'arithmetic' | 'parameter' | 'comment' | 'here-document' | 'unknown';

type Frame =
  { kind: 'word'; closer: ')' | '' } | { kind: 'double-quotes' | 'single-quotes' | 'backquotes' | 'parameter' } | { kind: 'arithmetic'; depth: number };

const WORD_START = /[\s;&|()<>]/;

/**
 * The place of every mustache of `template`, keyed by its offset in the text. Block tags
 * (`{{#if}}`, `{{/if}}`, `{{else}}`) and comments insert nothing and are not listed.
 */
export function shellPlaces(template: string): Map<number, ShellPlace> {
  const places = new Map<number, ShellPlace>();
  const stack: Frame[] = [{ kind: 'word', closer: '' }];
  const top = () => stack[stack.length - 1]!;
  /** Here-documents whose bodies begin at the next line. */
  const pendingHeredocs: { delimiter: string; stripTabs: boolean }[] = [];
  let heredoc: { delimiter: string; stripTabs: boolean } | undefined;
  let comment = false;
  /** The previous character belongs to a word (a `#` there starts no comment). */
  let inWord = false;
  let i = 0;
  /** Enters a frame whose opening is `width` characters long. */
  const enter = (frame: Frame, width: number) => {
    stack.push(frame);
    i += width;
  };
  while (i < template.length) {
    if (template.startsWith('{{', i)) {
      const triple = template.startsWith('{{{', i);
      const end = template.indexOf(triple ? '}}}' : '}}', i + 2);
      const stop = end < 0 ? template.length : end + (triple ? 3 : 2);
      const inner = template
        .slice(i + (triple ? 3 : 2), end < 0 ? undefined : end)
        .replace(/^~/, '')
        .trim();
      if (!/^[#/!^>]|^else\b/.test(inner)) {
        const frame = top();
        places.set(i, heredoc ? 'here-document' : comment ? 'comment' : frame.kind === 'word' ? 'word' : frame.kind);
        inWord = true;
      }
      i = stop;
      continue;
    }
    const c = template[i]!;
    if (c === '\n') {
      comment = false;
      inWord = false;
      heredoc ??= pendingHeredocs.shift();
      if (heredoc) {
        // The next line: the delimiter ends this body (and the next one pending begins after it).
        const next = template.indexOf('\n', i + 1);
        const line = template.slice(i + 1, next < 0 ? undefined : next);
        if ((heredoc.stripTabs ? line.replace(/^\t+/, '') : line) === heredoc.delimiter) {
          heredoc = undefined;
          i = next < 0 ? template.length : next;
          continue;
        }
      }
      i++;
      continue;
    }
    if (heredoc || comment) {
      i++;
      continue;
    }
    const frame = top();
    if (frame.kind === 'single-quotes') {
      if (c === "'") stack.pop();
      i++;
      continue;
    }
    if (c === '\\') {
      i += 2;
      inWord = true;
      continue;
    }
    if (frame.kind === 'double-quotes' || frame.kind === 'backquotes' || frame.kind === 'parameter') {
      const closer = frame.kind === 'double-quotes' ? '"' : frame.kind === 'backquotes' ? '`' : '}';
      if (c === closer) {
        stack.pop();
        i++;
      } else if (template.startsWith('$((', i)) enter({ kind: 'arithmetic', depth: 0 }, 3);
      else if (template.startsWith('$(', i)) enter({ kind: 'word', closer: ')' }, 2);
      else if (c === '`' && frame.kind !== 'backquotes') enter({ kind: 'backquotes' }, 1);
      else i++;
      continue;
    }
    if (frame.kind === 'arithmetic') {
      if (template.startsWith('$(', i) && !template.startsWith('$((', i)) enter({ kind: 'word', closer: ')' }, 2);
      else {
        if (c === '(') frame.depth++;
        else if (c === ')' && frame.depth > 0) frame.depth--;
        else if (template.startsWith('))', i)) {
          stack.pop();
          i++;
        }
        i++;
      }
      continue;
    }
    // A word context: top level, $(…) or (…).
    if (c === '#' && !inWord) {
      comment = true;
      i++;
      continue;
    }
    const heredocStart = template.startsWith('<<', i) && !template.startsWith('<<<', i) && /^<<(-?)[ \t]*(['"]?)\\?([A-Za-z0-9_.-]+)\2/.exec(template.slice(i));
    if (heredocStart) {
      pendingHeredocs.push({ delimiter: heredocStart[3]!, stripTabs: heredocStart[1] === '-' });
      i += heredocStart[0].length;
      inWord = true;
      continue;
    }
    inWord = !WORD_START.test(c);
    if (c === "'") enter({ kind: 'single-quotes' }, 1);
    else if (c === '"') enter({ kind: 'double-quotes' }, 1);
    else if (c === '`') enter({ kind: 'backquotes' }, 1);
    else if (template.startsWith('$((', i)) enter({ kind: 'arithmetic', depth: 0 }, 3);
    else if (template.startsWith('${', i)) enter({ kind: 'parameter' }, 2);
    else if (template.startsWith('$(', i)) enter({ kind: 'word', closer: ')' }, 2);
    else if (c === '(') enter({ kind: 'word', closer: ')' }, 1);
    else {
      if (c === ')' && frame.kind === 'word' && frame.closer === ')') stack.pop();
      i++;
    }
  }
  return places;
}
