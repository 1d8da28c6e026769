import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { LsError } from '../errors.js';
import type { SecretSource } from './types.js';
import { secretNotFound } from './not-found.js';

const QUOTE_HINT = 'quote a value that starts with one of * & ! @ % `';

/** Secrets from a YAML or JSON file of `name: value`. The file must not be readable by others. */
export class FileSecretSource implements SecretSource {
  private values?: Promise<Map<string, string>>;

  constructor(private readonly path: string) {}

  private async read(name: string): Promise<Map<string, string>> {
    const fail = (message: string) => new LsError('ESECRET', { name, message: `secrets file ${this.path}: ${message}` });
    const info = await stat(this.path).catch(() => {
      throw fail('does not exist');
    });
    if (info.mode & 0o007) throw fail(`is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${this.path}`);
    // parseDocument, not parse: parse prints its warnings (an unknown tag such as `!unsafe`) with
    // the line they are on, a secret included, to stderr. Messages of the parser may quote the
    // file too (`*value` is "Unresolved alias ...: value"): problems say where, never what.
    const lineCounter = new LineCounter();
    const doc = parseDocument(await readFile(this.path, 'utf8'), { lineCounter, prettyErrors: false });
    const bad = doc.errors[0] ?? doc.warnings[0];
    if (bad) {
      const { line, col } = lineCounter.linePos(bad.pos[0]);
      throw fail(`is not valid YAML/JSON at line ${line}, column ${col} (${bad.code}); ${QUOTE_HINT}`);
    }
    let data: unknown;
    try {
      data = doc.toJS();
    } catch {
      throw fail(`is not valid YAML/JSON: an alias (*name) is not defined or expands to too large a value; ${QUOTE_HINT}`);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw fail('must be a mapping of name: value');
    const values = new Map<string, string>();
    for (const [key, value] of Object.entries(data)) {
      if (typeof value === 'object' && value !== null) throw fail(`value of '${key}' must be a string`);
      values.set(key, String(value));
    }
    return values;
  }

  async resolve(name: string): Promise<string> {
    this.values ??= this.read(name);
    // A failed read is not cached: fixing the file's mode and retrying works.
    const values = await this.values.catch((error) => {
      this.values = undefined;
      throw error;
    });
    const value = values.get(name);
    if (value === undefined) throw secretNotFound(name, `not in secrets file ${this.path}`);
    return value;
  }
}
