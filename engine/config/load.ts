import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseAndValidate } from '../schema/index.js';
import { invalid, LsError } from '../errors.js';
import type { ArchiveFormat } from '../archive/types.js';
import { targetOptionProblems } from './target-options.js';
import schema from '../../schemas/config.schema.json' with { type: 'json' };

export const DEFAULT_CONFIG_FILE = 'lsbackup.config.yaml';

export interface TargetConfig {
  uri: string;
  options?: Record<string, unknown>;
}

export interface SecretSourceConfig {
  type: 'env' | 'file' | 'command';
  mapping?: Record<string, string>;
  path?: string;
  command?: string[];
}

/** lsbackup.config.yaml as written (see schemas/config.schema.json). */
export interface ConfigFile {
  cluster?: string;
  build?: string;
  recipes?: string[];
  targets?: (string | TargetConfig)[];
  format?: ArchiveFormat;
  concurrency?: number;
  stepTimeout?: number;
  components?: { only?: string[]; skip?: string[]; vars?: Record<string, Record<string, unknown>> };
  secrets?: { sources?: SecretSourceConfig[] };
  encryption?: EncryptionConfig;
}

/** Encryption at rest (age): who can decrypt, and the key to read backups with. */
export interface EncryptionConfig {
  recipients?: string[];
  identityFile?: string;
  plainMetadata?: boolean;
}

/** The config with paths resolved against its file's directory and targets normalised. */
export interface Config extends Omit<ConfigFile, 'targets'> {
  file?: string;
  targets: TargetConfig[];
}

/** The published config schema, also what the loader validates against. */
export const configSchema = schema as typeof schema & { $id: string };

/** The config file to use: the one named, else ./lsbackup.config.yaml when it exists. */
export function findConfigFile(explicit: string | undefined, cwd = process.cwd()): string | undefined {
  if (explicit) return path.resolve(cwd, explicit);
  const candidate = path.join(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(candidate) ? candidate : undefined;
}

/** Reads and validates a config file; every problem is reported at once with file:line:col. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new LsError('EUSAGE', { message: `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
  const { value, source, problems } = parseAndValidate<ConfigFile>(file, text, configSchema);
  // Each target's options follow its plugin's own schema; checked once the file's shape is right.
  if (problems.length === 0) problems.push(...targetOptionProblems(source, value?.targets));
  if (problems.length > 0 || value === undefined) throw invalid('Config', problems);
  return resolveConfig(value, file);
}

/** An empty config (no file): defaults only. */
export function emptyConfig(): Config {
  return { targets: [] };
}

function resolveConfig(raw: ConfigFile, file: string): Config {
  const dir = path.dirname(file);
  const abs = (p: string) => (isUri(p) ? p : path.resolve(dir, p));
  return {
    ...raw,
    file,
    build: raw.build === undefined ? undefined : abs(raw.build),
    recipes: raw.recipes?.map(abs),
    targets: (raw.targets ?? []).map((t) => (typeof t === 'string' ? { uri: abs(t) } : { ...t, uri: abs(t.uri) })),
    encryption: raw.encryption && {
      ...raw.encryption,
      identityFile: raw.encryption.identityFile === undefined ? undefined : abs(raw.encryption.identityFile),
    },
    secrets: raw.secrets && {
      sources: raw.secrets.sources?.map((s) => (s.path ? { ...s, path: abs(s.path) } : s)),
    },
  };
}

function isUri(p: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p);
}
