/**
 * Target plugin options: validated against each plugin's own schema (targets/registry.ts),
 * with file:line:col for config files, and credentials resolved from secret references.
 */
import { parseYaml, positionOf, validateSource, type YamlSource } from '../schema/index.js';
import { LsError, invalid, type Problem } from '../errors.js';
import path from 'node:path';
import { namesNoLocation, schemeOf, targetOptionsSchema, targetOptionsSchemas } from '../../targets/registry.js';
import { duplicateTargets, TWICE_IN_ONE_PLACE } from '../../targets/support/location.js';
import { isSecretRef } from '../../targets/support/secret-ref.js';
import { URI_CREDENTIALS_HINT, URI_CREDENTIALS_MESSAGE, uriCarryingCredentials } from '../../targets/support/uri-credentials.js';
import type { SecretSource, Redactor } from '../secrets/types.js';

/** Every target in a config file whose `options` break its plugin's schema, as positioned problems. */
export function targetOptionProblems(source: YamlSource, targets: unknown[] | undefined, base: string[] = ['targets']): Problem[] {
  const problems: Problem[] = [];
  (targets ?? []).forEach((t, i) => {
    // A target is a URI string or {uri, options}: the scheme of either must be a known plugin.
    const plain = typeof t === 'string';
    if (!plain && (typeof t !== 'object' || t === null)) return;
    const { uri, options } = plain ? { uri: t, options: undefined } : (t as { uri: string; options?: unknown });
    const schema = targetOptionsSchemas.get(schemeOf(uri));
    const at = plain ? [...base, i] : [...base, i, 'uri'];
    const name = `'${base.join('.')}[${i}]${plain ? '' : '.uri'}'`;
    if (!schema || namesNoLocation(uri)) {
      // An unknown scheme or a URI naming no place is a config error too, reported with the others.
      problems.push({
        file: source.file,
        ...positionOf(source, at),
        message: schema
          ? `${name} ${JSON.stringify(uri)} names no directory or bucket`
          : `${name} has an unknown scheme '${schemeOf(uri)}' (known schemes: ${[...targetOptionsSchemas.keys()].join(', ')})`,
        hint: 'use a path, file://, nfs://<mounted path>, s3://bucket/prefix or azfile://account/share/dir',
      });
      return;
    }
    const masked = uriCarryingCredentials(uri);
    if (masked)
      problems.push({ file: source.file, ...positionOf(source, at), message: `${name} ${masked} ${URI_CREDENTIALS_MESSAGE}`, hint: URI_CREDENTIALS_HINT });
    if (options === undefined) return;
    problems.push(...validateSource(source, schema, [...base, String(i), 'options']).problems);
  });
  return problems;
}

/**
 * Two entries of one target list (the top level's, a job's) that name one place, however written
 * (`./t`, `/abs/t/`, a link to it): refused at the second, naming the first. Relative paths are
 * the config file's directory's. Entries that are no target at all are left to the other checks.
 */
export function duplicateTargetProblems(source: YamlSource, targets: unknown[] | undefined, base: string[] = ['targets']): Problem[] {
  const entries = (targets ?? []).flatMap((t, index) => {
    const { uri, options } = typeof t === 'string' ? { uri: t, options: undefined } : ((t ?? {}) as { uri?: unknown; options?: Record<string, unknown> });
    // A URI that carries credentials is a problem of its own (above), never printed whole here.
    if (typeof uri !== 'string' || !targetOptionsSchemas.has(schemeOf(uri)) || namesNoLocation(uri) || uriCarryingCredentials(uri)) return [];
    const resolved = schemeOf(uri) === 'file' && !uri.startsWith('file://') ? path.resolve(path.dirname(source.file), uri) : uri;
    return [{ index, written: uri, uri: resolved, options, plain: typeof t === 'string' }];
  });
  const name = (e: (typeof entries)[number]) => `'${base.join('.')}[${e.index}]' ${JSON.stringify(e.written)}`;
  return duplicateTargets(entries).map(({ first, second, location }) => {
    const [a, b] = [entries[first]!, entries[second]!];
    const at = (e: typeof a) => positionOf(source, e.plain ? [...base, e.index] : [...base, e.index, 'uri']);
    const firstAt = at(a);
    return {
      file: source.file,
      ...at(b),
      message: `${name(b)} is the same place as ${name(a)} (${firstAt.line}:${firstAt.col}), ${location}: ${TWICE_IN_ONE_PLACE}`,
      hint: 'list each target once',
    };
  });
}

/** Flags that set target options on the command line. */
export interface TargetOptionFlags {
  /** `key=value`, repeatable; applies to each target whose plugin has that option. */
  targetOption?: string[];
  /** `key=SECRET_NAME`, repeatable: the option's value is that secret. */
  targetSecret?: string[];
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
}

interface FlagOption {
  key: string;
  text: string;
  secret: boolean;
}

/** The key=value pairs of --target-option and --target-secret; a malformed one is a problem. */
function flagOptions(flags: TargetOptionFlags): { options: FlagOption[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const parse = (specs: string[] | undefined, flag: string, secret: boolean) =>
    (specs ?? []).flatMap((spec) => {
      const m = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/s.exec(spec);
      if (!m) {
        // Only the key is named: what follows it may be the secret itself (`secretAccessKey:…`).
        const key = /^[A-Za-z0-9]*/.exec(spec)![0];
        problems.push({ file: flag, message: `'${key}${key.length < spec.length ? '…' : ''}' is not of the form key=value` });
        return [];
      }
      return [{ key: m[1]!, text: m[2]!, secret }];
    });
  return { options: [...parse(flags.targetOption, '--target-option', false), ...parse(flags.targetSecret, '--target-secret', true)], problems };
}

/**
 * `-t /local -t s3://…` with `--target-option storageClass=…`: each option goes only to the
 * targets whose plugin has it. An option that none of them has is a mistake (a typo, or the
 * wrong target): EINVALID naming it and the targets.
 */
export function checkTargetOptionFlags(uris: string[], flags: TargetOptionFlags): void {
  const { options, problems } = flagOptions(flags);
  // The config's URIs were checked as it loaded (file:line:col); here it is -t's or $LSBACKUP_TARGET's that matter.
  for (const uri of uris) {
    const masked = uriCarryingCredentials(uri);
    if (masked) problems.push({ file: '-t', message: `${masked} ${URI_CREDENTIALS_MESSAGE}`, hint: URI_CREDENTIALS_HINT });
  }
  for (const o of options) {
    if (uris.some((uri) => o.key in targetOptionsSchema(uri).properties)) continue;
    const known = [...new Set(uris.flatMap((uri) => Object.keys(targetOptionsSchema(uri).properties)))];
    problems.push({
      file: o.secret ? '--target-secret' : '--target-option',
      message: `unknown key '${o.key}': no target given takes it (${uris.join(', ')})`,
      hint: known.length > 0 ? `options of these targets: ${known.join(', ')}` : 'these targets take no options',
    });
  }
  if (problems.length > 0) throw invalid('Target options on the command line', problems);
}

/** Options for one target from command-line flags (those its plugin has), typed by its schema and validated. */
export function targetOptionsFromFlags(uri: string, flags: TargetOptionFlags): Record<string, unknown> {
  const schema = targetOptionsSchema(uri);
  const properties = schema.properties as Record<string, { type?: string; oneOf?: unknown }>;
  const options: Record<string, unknown> = {};
  const { options: given, problems } = flagOptions(flags);
  for (const { key, text, secret } of given) {
    if (!(key in properties)) continue; // another target's option (checkTargetOptionFlags)
    // A credential in lsbackup's own argv is readable by every local user (ps, /proc) for the
    // whole run, and stays in shell history: only a reference to it may be on the command line.
    if (!secret && properties[key]?.oneOf) {
      problems.push({
        file: '--target-option',
        message: `'${key}' is a credential: on the command line every local user can read it (ps) while lsbackup runs`,
        hint: `give it as a secret reference: --target-secret ${key}=NAME (NAME resolved through the secret sources, by default the environment variable NAME)`,
      });
      continue;
    }
    const type = properties[key]?.type;
    options[key] = secret
      ? { secret: text }
      : type === 'boolean'
        ? (({ true: true, false: false } as Record<string, boolean>)[text] ?? text)
        : (type === 'integer' && /^\d+$/.test(text)) || (type === 'number' && /^\d+(\.\d+)?$/.test(text))
          ? Number(text)
          : text;
  }
  if (schemeOf(uri) === 's3') {
    if (flags.s3Endpoint !== undefined) options.endpoint = flags.s3Endpoint;
    if (flags.s3Region !== undefined) options.region = flags.s3Region;
    if (flags.s3PathStyle !== undefined) options.forcePathStyle = flags.s3PathStyle;
  }
  if (problems.length === 0 && Object.keys(options).length > 0) {
    const { problems: found } = validateSource({ ...yamlOf(options), file: `options for ${uri}` }, schema);
    problems.push(...found.map(({ line: _l, col: _c, ...p }) => p));
  }
  if (problems.length > 0) throw invalid('Target options on the command line', problems);
  return options;
}

/** `{secret: NAME}` values -> the secret; credentials are registered with the redactor either way. */
export async function resolveTargetSecrets(
  uri: string,
  options: Record<string, unknown>,
  secrets: SecretSource,
  redactor: Redactor,
): Promise<Record<string, unknown>> {
  const properties = targetOptionsSchema(uri).properties as Record<string, { oneOf?: unknown }>;
  const resolved: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (isSecretRef(value)) {
      let secret: string;
      try {
        secret = await secrets.resolve(value.secret);
      } catch (e) {
        if (e instanceof LsError) throw e;
        throw new LsError('ESECRET', { name: value.secret, message: (e as Error).message }, { cause: e });
      }
      redactor.add(secret, `target ${uri} option '${key}' (secret '${value.secret}')`);
      resolved[key] = secret;
    } else {
      // A credential written in plain is still never printed.
      if (properties[key]?.oneOf && typeof value === 'string') redactor.add(value, `target ${uri} option '${key}'`);
      resolved[key] = value;
    }
  }
  return resolved;
}

/** Command-line options have no file: validate them as a tiny YAML document of their own. */
function yamlOf(options: Record<string, unknown>): YamlSource {
  return parseYaml('flags', JSON.stringify(options)).source;
}
