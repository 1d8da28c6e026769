import { createRequire } from 'node:module';
import type { Ajv2020, AnySchemaObject, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Problem, SourcePosition } from '../errors.js';
import { didYouMean } from './closest.js';
import { precompiledCheck } from './precompiled.js';
import { parseYaml, pointerToPath, positionOf, type YamlSource } from './yaml-source.js';

let ajvInstance: Ajv2020 | undefined;

/**
 * One Ajv instance for every schema lsbackup validates (recipes, config, ...). Created on first
 * need: input that passes the build-time validators (precompiled.ts) never loads Ajv at all.
 */
function ajv(): Ajv2020 {
  if (!ajvInstance) {
    const require = createRequire(import.meta.url);
    const { Ajv2020: AjvClass } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    ajvInstance = new AjvClass({ allErrors: true, strict: true, verbose: true });
    // metadata.json's times are `format: date-time`.
    const addFormats = require('ajv-formats') as { default: (ajv: Ajv2020, formats: string[]) => Ajv2020 };
    addFormats.default(ajvInstance, ['date-time']);
  }
  return ajvInstance;
}

type JsonSchema = AnySchemaObject & { $id: string };

function validatorFor(schema: JsonSchema): ValidateFunction {
  const known = ajv().getSchema(schema.$id);
  if (known) return known;
  indexPointers(schema, '');
  return ajv().compile(schema);
}

/**
 * JSON pointer of every object/array inside a schema, by identity. Ajv's schemaPath is relative to
 * whichever $ref it came through, but with `verbose` an error carries the schema object itself.
 */
const pointers = new WeakMap<object, string>();
function indexPointers(node: unknown, pointer: string): void {
  if (typeof node !== 'object' || node === null || pointers.has(node)) return;
  pointers.set(node, pointer);
  for (const [key, child] of Object.entries(node)) indexPointers(child, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
}

function valueAt(data: unknown, pointer: string): unknown {
  return pointerToPath(pointer).reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], data);
}

function under(pointer: string, base: string): boolean {
  return pointer === base || pointer.startsWith(base + '/');
}

/** A branch error that says "this is not even the right JSON type here". */
const isTypeMismatchAt = (e: ErrorObject, pointer: string): boolean => e.instancePath === pointer && e.keyword === 'type';

/**
 * Ajv reports every failing branch of a oneOf/anyOf, which reads as noise. Re-validate the value
 * against each branch alone and keep only the errors of the branch the author most likely meant:
 * one whose JSON type matches, then the one with the fewest errors. When no branch has the right
 * type, say "must be A or B" once.
 */
function collapseAlternatives(errors: ErrorObject[], data: unknown, root: JsonSchema): ErrorObject[] {
  const alternative = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').sort((a, b) => a.instancePath.length - b.instancePath.length)[0];
  if (!alternative) return errors;
  const base = alternative.instancePath;
  const branches = alternative.schema as unknown[];
  const pointer = pointers.get(branches);
  if (pointer === undefined)
    return collapseAlternatives(
      errors.filter((e) => e !== alternative),
      data,
      root,
    );
  const value = valueAt(data, base);
  const outcomes = branches.map((_, i) => {
    // Synchronous: lsbackup's schemas have no $async.
    const validate = ajv().getSchema(`${root.$id}#${pointer}/${i}`) as ValidateFunction;
    validate(value);
    return (validate.errors ?? []).map((e) => ({ ...e, instancePath: base + e.instancePath }));
  });
  let chosen: ErrorObject[];
  if (outcomes.some((errs) => errs.length === 0)) {
    chosen = [{ ...alternative, message: 'matches more than one of the allowed forms' }];
  } else {
    const typed = outcomes.filter((errs) => !errs.some((e) => isTypeMismatchAt(e, base)));
    if (typed.length === 0) {
      const types = outcomes.flatMap((errs) => errs.filter((e) => isTypeMismatchAt(e, base)).map((e) => String(e.params.type)));
      chosen = [{ ...alternative, keyword: 'type', params: { type: [...new Set(types)].join(' or ') } }];
    } else {
      chosen = typed.reduce((best, errs) => (errs.length < best.length ? errs : best));
    }
  }
  const rest = errors.filter((e) => !under(e.instancePath, base));
  return collapseAlternatives([...rest, ...chosen], data, root);
}

/** ['spec', 'collect', '0', 'path'] -> "spec.collect[0].path" */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((s, i) => (/^\d+$/.test(String(s)) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

const article = (type: string): string => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);
/** A value's JSON type as a message names it; YAML's .inf and .nan (or 1e400) are numbers JSON has no type for. */
const typeOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'number' && !Number.isFinite(value) ? 'infinite or NaN value' : typeof value;

/** Where a problem about `path` is: file:line:col in a YAML source, or just the file for a bare value. */
type Locate = (path: readonly string[], at: 'key' | 'value') => SourcePosition;

/** Turn one Ajv error into a Problem positioned on the node it is about. */
function toProblem(error: ErrorObject, locate: Locate): Problem {
  const path = pointerToPath(error.instancePath);
  const where = (p: readonly string[], at: 'key' | 'value' = 'value') => locate(p, at);
  const field = path.length ? `'${formatPath(path)}'` : 'the document';
  const parent = error.parentSchema as AnySchemaObject | undefined;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params.additionalProperty);
      const allowed = Object.keys(parent?.properties ?? {});
      return {
        ...where([...path, key], 'key'),
        message: `unknown key '${key}'${path.length ? ` in ${field}` : ''}`,
        hint: didYouMean(key, allowed) ?? (allowed.length ? `allowed keys: ${allowed.join(', ')}` : undefined),
      };
    }
    case 'required':
      return { ...where(path), message: `${field} is missing the required key '${error.params.missingProperty}'` };
    case 'type':
      return {
        ...where(path),
        message: `${field} must be ${String(error.params.type)
          .split(/,| or /)
          .map(article)
          .join(' or ')}, not ${article(typeOf(error.data))}`,
      };
    case 'const':
      return { ...where(path), message: `${field} must be '${String(error.params.allowedValue)}'` };
    case 'enum': {
      const allowed = (error.params.allowedValues as unknown[]).map(String);
      return {
        ...where(path),
        message: `${field} must be one of: ${allowed.join(', ')}`,
        hint: typeof error.data === 'string' ? didYouMean(error.data, allowed) : undefined,
      };
    }
    case 'pattern': {
      const example = (parent?.examples as unknown[] | undefined)?.[0];
      return {
        ...where(path),
        message: `${field} '${String(error.data)}' does not match ${String(error.params.pattern)}`,
        hint: example === undefined ? undefined : `for example '${String(example)}'`,
      };
    }
    case 'propertyNames':
      return { ...where([...path, String(error.params.propertyName)], 'key'), message: `invalid key '${error.params.propertyName}' in ${field}` };
    default:
      return { ...where(path), message: `${field} ${error.message ?? 'is invalid'}` };
  }
}

export interface Validated<T> {
  /** The parsed value, only when there were no problems. */
  value?: T;
  source: YamlSource;
  problems: Problem[];
}

/**
 * Validate already-parsed YAML against a JSON Schema (it must have an $id). With `at`, only the
 * value at that path is validated (e.g. one target's plugin options), positions still in the file.
 */
export function validateSource<T>(source: YamlSource, schema: JsonSchema, at: readonly string[] = []): Validated<T> {
  const data = at.reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], source.doc.toJS());
  const errors = schemaErrors(data, schema);
  if (errors.length === 0) return { value: data as T, source, problems: [] };
  const prefix = at.map((k) => '/' + k.replaceAll('~', '~0').replaceAll('/', '~1')).join('');
  const locate: Locate = (path, where) => ({ file: source.file, ...positionOf(source, path, where) });
  const problems = errors
    .map((e) => toProblem({ ...e, instancePath: prefix + e.instancePath }, locate))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  return { source, problems };
}

/**
 * Validate a value that was not read from YAML (e.g. a metadata.json read back with JSON.parse,
 * which can be far too large to parse with positions): problems name the path inside `file`.
 */
export function validateValue<T>(file: string, data: unknown, schema: JsonSchema): { value?: T; problems: Problem[] } {
  const errors = schemaErrors(data, schema);
  if (errors.length === 0) return { value: data as T, problems: [] };
  return { problems: errors.map((e) => toProblem(e, () => ({ file }))) };
}

/** Ajv's errors for `data`, the failing branches of oneOf/anyOf collapsed; none when it is valid. */
function schemaErrors(data: unknown, schema: JsonSchema): ErrorObject[] {
  // The common case, valid input, is settled by the build-time validator without Ajv.
  if (precompiledCheck(schema)?.(data)) return [];
  const validate = validatorFor(schema);
  if (validate(data)) return [];
  // propertyNames reports the bad name then a generic wrapper error; keep the specific one.
  const errors = (validate.errors ?? []).filter((e) => !(e.keyword === 'pattern' && e.propertyName !== undefined));
  return collapseAlternatives(errors, data, schema);
}

/** Parse YAML text and validate it: every syntax or schema problem with file:line:col. */
export function parseAndValidate<T>(file: string, text: string, schema: JsonSchema): Validated<T> {
  const { source, problems } = parseYaml(file, text);
  if (problems.length) return { source, problems };
  return validateSource<T>(source, schema);
}
