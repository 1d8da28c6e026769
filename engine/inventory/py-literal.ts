/**
 * Python's `ast.literal_eval` for the values Ansible reads from INI inventories:
 * numbers, strings, True/False/None, lists, tuples, dicts and sets. Ansible keeps the
 * raw text when literal_eval fails, so this returns `{ ok: false }` rather than throwing.
 * Tuples and sets become arrays, as they do in `ansible-inventory --list` JSON.
 */
export type PyLiteralResult = { ok: true; value: unknown } | { ok: false };

class NotALiteral extends Error {}

export function pyLiteralEval(text: string): PyLiteralResult {
  try {
    const p = new Parser(text);
    p.skipSpace();
    const value = p.parseExpr();
    p.skipSpace();
    if (!p.atEnd()) throw new NotALiteral();
    return { ok: true, value };
  } catch (e) {
    if (e instanceof NotALiteral) return { ok: false };
    throw e;
  }
}

const NUMBER = /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)/;
const STRING_PREFIX = /^([rRuU]?)(['"])/;
const SIMPLE_ESCAPES: Record<string, string> = {
  '\n': '',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  /** Whitespace and a trailing `# comment` are insignificant to Python's parser. */
  skipSpace(): void {
    while (!this.atEnd()) {
      const c = this.s[this.i]!;
      if (c === ' ' || c === '\t') this.i++;
      else if (c === '#') this.i = this.s.length;
      else break;
    }
  }

  private expect(c: string): void {
    this.skipSpace();
    if (this.s[this.i] !== c) throw new NotALiteral();
    this.i++;
  }

  private peek(): string | undefined {
    this.skipSpace();
    return this.s[this.i];
  }

  parseExpr(): unknown {
    const c = this.peek();
    if (c === undefined) throw new NotALiteral();
    if (c === '[') return this.parseSequence('[', ']');
    if (c === '(') return this.parseParen();
    if (c === '{') return this.parseBrace();
    if (c === '-' || c === '+') {
      this.i++;
      const n = this.parseExpr();
      if (typeof n !== 'number') throw new NotALiteral();
      return c === '-' ? -n : n;
    }
    const rest = this.s.slice(this.i);
    if (STRING_PREFIX.test(rest)) return this.parseStrings();
    const word = /^[A-Za-z_]\w*/.exec(rest)?.[0];
    if (word !== undefined) {
      this.i += word.length;
      if (word === 'True') return true;
      if (word === 'False') return false;
      if (word === 'None') return null;
      throw new NotALiteral();
    }
    const num = NUMBER.exec(rest)?.[0];
    if (num) {
      this.i += num.length;
      // Complex numbers (1j) and identifiers glued to numbers are not plain literals here.
      if (/^[A-Za-z_]/.test(this.s.slice(this.i))) throw new NotALiteral();
      return parseNumber(num);
    }
    throw new NotALiteral();
  }

  private parseSequence(open: string, close: string): unknown[] {
    this.expect(open);
    const items: unknown[] = [];
    while (this.peek() !== close) {
      items.push(this.parseExpr());
      if (this.peek() === ',') this.i++;
      else break;
    }
    this.expect(close);
    return items;
  }

  /** `(x)` is x; `()`, `(x,)` and `(x, y)` are tuples. */
  private parseParen(): unknown {
    this.expect('(');
    if (this.peek() === ')') {
      this.i++;
      return [];
    }
    const first = this.parseExpr();
    if (this.peek() === ')') {
      this.i++;
      return first;
    }
    const items = [first];
    while (this.peek() === ',') {
      this.i++;
      if (this.peek() === ')') break;
      items.push(this.parseExpr());
    }
    this.expect(')');
    return items;
  }

  private parseBrace(): unknown {
    this.expect('{');
    if (this.peek() === '}') {
      this.i++;
      return {};
    }
    const firstKey = this.parseExpr();
    if (this.peek() !== ':') {
      // A set literal.
      const items = [firstKey];
      while (this.peek() === ',') {
        this.i++;
        if (this.peek() === '}') break;
        items.push(this.parseExpr());
      }
      this.expect('}');
      return items;
    }
    const dict: Record<string, unknown> = {};
    let key = firstKey;
    for (;;) {
      this.expect(':');
      if (key !== null && typeof key === 'object') throw new NotALiteral(); // unhashable
      dict[pyKey(key)] = this.parseExpr();
      if (this.peek() !== ',') break;
      this.i++;
      if (this.peek() === '}') break;
      key = this.parseExpr();
    }
    this.expect('}');
    return dict;
  }

  /** Adjacent string literals concatenate, as in Python. */
  private parseStrings(): string {
    let out = '';
    for (;;) {
      out += this.parseString();
      this.skipSpace();
      if (!STRING_PREFIX.test(this.s.slice(this.i))) return out;
    }
  }

  private parseString(): string {
    const m = STRING_PREFIX.exec(this.s.slice(this.i))!;
    const raw = m[1]!.toLowerCase() === 'r';
    this.i += m[0].length;
    const quote = m[2]!;
    const triple = this.s.startsWith(quote + quote, this.i);
    if (triple) this.i += 2;
    const terminator = triple ? quote.repeat(3) : quote;
    let out = '';
    for (;;) {
      if (this.atEnd()) throw new NotALiteral();
      if (this.s.startsWith(terminator, this.i)) {
        this.i += terminator.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (c === '\\') {
        const next = this.s[this.i + 1];
        if (next === undefined) throw new NotALiteral();
        if (raw) {
          out += c + next;
          this.i += 2;
          continue;
        }
        this.i += 2;
        out += this.escape(next);
      } else {
        out += c;
        this.i++;
      }
    }
  }

  private escape(c: string): string {
    if (c in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[c]!;
    const hexLen = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    if (hexLen) {
      const hex = this.s.slice(this.i, this.i + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) throw new NotALiteral();
      this.i += hexLen;
      return String.fromCodePoint(parseInt(hex, 16));
    }
    if (/[0-7]/.test(c)) {
      const oct = c + (/^[0-7]{0,2}/.exec(this.s.slice(this.i))?.[0] ?? '');
      this.i += oct.length - 1;
      return String.fromCodePoint(parseInt(oct, 8));
    }
    // Python keeps unknown escapes such as `\d` as written.
    return '\\' + c;
  }
}

function parseNumber(text: string): number {
  const t = text.replace(/_/g, '');
  if (/^0[xob]/i.test(t)) return Number(t);
  if (/[.eE]/.test(t)) return Number(t);
  // Python 3 rejects leading zeros on decimal integers ("010"), except all zeros.
  if (/^0\d/.test(t) && !/^0+$/.test(t)) throw new NotALiteral();
  return Number(t);
}

/** Python dict keys printed as JSON object keys (what ansible-inventory --list shows). */
function pyKey(key: unknown): string {
  if (key === true) return 'true';
  if (key === false) return 'false';
  if (key === null) return 'null';
  return String(key);
}
