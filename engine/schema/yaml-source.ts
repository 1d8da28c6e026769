import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Document, type Node, type Pair, type YAMLError } from 'yaml';
import type { Problem } from '../errors.js';

/** A parsed YAML file that remembers where every node is. */
export interface YamlSource {
  file: string;
  text: string;
  doc: Document;
  lineCounter: LineCounter;
}

export type DataPath = readonly (string | number)[];

export interface Position {
  line: number;
  col: number;
}

/** Parse YAML keeping node positions; syntax errors come back as Problems with line:col. */
export function parseYaml(file: string, text: string): { source: YamlSource; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const problems = yamlSyntaxProblems(file, doc.errors, text);
  if (problems.length === 0) {
    const bomb = aliasExpansionProblem(doc, file, lineCounter);
    if (bomb) problems.push(bomb);
  }
  return { source: { file, text, doc, lineCounter }, problems };
}

/**
 * A parsed file's syntax errors as problems, each once. Two of the library's messages speak to a
 * programmer (`please use YAML.parseAllDocuments()`, `Maximum call stack size exceeded`, the
 * latter repeated for each level the parser unwinds): those say what is wrong with the file.
 */
export function yamlSyntaxProblems(file: string, errors: readonly YAMLError[], text: string): Problem[] {
  const tooDeep = errors.find(isTooDeep);
  return withoutEchoes(errors)
    .filter((e) => !isTooDeep(e) || e === tooDeep)
    .map((error) => {
      const [start] = error.linePos ?? [];
      return { file, line: start?.line, col: start?.col, ...syntaxMessage(error, text) };
    });
}

/**
 * The parser's errors that are not echoes of another: a tab used as indentation throws the
 * columns of the lines after it off, and they are reported as misaligned (one tab, eight
 * problems); a value followed by a deeper-indented line is reported twice at one spot.
 */
function withoutEchoes(errors: readonly YAMLError[]): readonly YAMLError[] {
  const tabs = errors.filter((e) => e.code === 'TAB_AS_INDENT');
  if (tabs.length > 0) return tabs;
  const nested = new Set(errors.filter((e) => e.code === 'BLOCK_AS_IMPLICIT_KEY').map((e) => e.pos[0]));
  return errors.filter((e) => !(e.code === 'MULTILINE_IMPLICIT_KEY' && nested.has(e.pos[0])));
}

/**
 * The parser ran out of stack. Where it runs out depends on the stack the engine's compiled
 * code uses at that moment, and so does the code: usually RESOURCE_EXHAUSTION, sometimes the
 * bare RangeError's message under another code (once beside it).
 */
function isTooDeep(error: YAMLError): boolean {
  return error.code === 'RESOURCE_EXHAUSTION' || error.message.includes('Maximum call stack size exceeded');
}

const ALIGN_KEYS = "indent every key of one mapping to the same column with spaces, and a nested mapping's keys under its key, which has nothing after its ':'";

function syntaxMessage(error: YAMLError, text: string): { message: string; hint?: string } {
  switch (error.code) {
    case 'TAB_AS_INDENT':
      return { message: 'YAML syntax error: a tab indents this line', hint: 'indent with spaces: YAML does not allow tabs there' };
    case 'DUPLICATE_KEY': {
      const key = /^[^:\n]*/.exec(text.slice(error.pos[0]))![0].trim();
      return { message: `YAML syntax error: the key '${key}' appears twice in this mapping`, hint: 'keep one of them' };
    }
    case 'BLOCK_AS_IMPLICIT_KEY':
      return { message: 'YAML syntax error: a line below this value is indented deeper than its key', hint: ALIGN_KEYS };
  }
  // BAD_INDENT also says a flow collection ([a, b) is not closed: only misaligned keys get the hint.
  if (error.code === 'BAD_INDENT' && error.message.startsWith('All mapping items'))
    return { message: `YAML syntax error: ${plainMessage(error)}`, hint: ALIGN_KEYS };
  if (error.code === 'MULTIPLE_DOCS') {
    return {
      message: 'YAML syntax error: a second document starts here; the file must hold one',
      hint: "remove this '---' line and what follows, or put it in a file of its own",
    };
  }
  if (isTooDeep(error)) return { message: 'YAML syntax error: values are nested too deeply to read', hint: 'flatten this value' };
  return { message: `YAML syntax error: ${plainMessage(error)}` };
}

/** prettyErrors appends " at line L, column C:" and a source excerpt; we print our own position. */
function plainMessage(error: YAMLError): string {
  return error.message.split(/ at line \d+, column \d+/)[0]!.split('\n')[0]!;
}

/**
 * A document whose aliases would expand into a huge value (a "billion laughs" file) is refused
 * with the position of its first alias. The yaml library detects it only when the document is
 * converted (it throws a bare ReferenceError then), so convert once here, where a file is read.
 */
export function aliasExpansionProblem(doc: Document, file: string, lineCounter: LineCounter): Problem | undefined {
  try {
    doc.toJS();
    return undefined;
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    let first: Alias | undefined;
    visit(doc, {
      Alias(_key, node) {
        first = node;
        return visit.BREAK;
      },
    });
    const at = first?.range ? lineCounter.linePos(first.range[0]) : undefined;
    return {
      file,
      line: at?.line,
      col: at?.col,
      message: 'YAML aliases from here on expand to too large a value (a "billion laughs" document); refused',
      hint: 'write the values out, or use fewer nested aliases (*name)',
    };
  }
}

/** JSON pointer ("/spec/backup/0") -> path segments; numbers stay strings and match sequence indexes too. */
export function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** The deepest node along `path` and, when the last step was a mapping key, that pair. */
function walk(doc: Document, path: DataPath): { node: Node | null; pair?: Pair; complete: boolean } {
  let node = doc.contents as Node | null;
  let pair: Pair | undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const found = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!found) return { node, complete: false };
      pair = found as Pair;
      node = (found.value as Node | null) ?? null;
      if (node === null) return { node: null, pair, complete: true };
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (item === undefined) return { node, complete: false };
      pair = undefined;
      node = isPair(item) ? ((item.value as Node) ?? null) : (item as Node);
    } else {
      return { node, complete: false };
    }
  }
  return { node, pair, complete: true };
}

function offsetToPosition(source: YamlSource, offset: number): Position {
  const { line, col } = source.lineCounter.linePos(offset);
  return { line, col };
}

/**
 * Where `path` is in the file. `at: 'key'` points at the mapping key (unknown keys),
 * `at: 'value'` at the value. A path that does not exist points at its deepest existing parent.
 */
export function positionOf(source: YamlSource, path: DataPath, at: 'key' | 'value' = 'value'): Position {
  const { node, pair } = walk(source.doc, path);
  const keyNode = pair?.key as Node | undefined;
  const target = at === 'key' && keyNode?.range ? keyNode : (node ?? keyNode);
  const offset = target?.range?.[0] ?? 0;
  return offsetToPosition(source, offset);
}

/** The YAML node at `path`, when it exists (e.g. to read a scalar's quoting style). */
export function nodeAt(source: YamlSource, path: DataPath): Node | null {
  const { node, complete } = walk(source.doc, path);
  return complete ? node : null;
}
