import { readCapped, tooLargeProblem } from '../input-limits.js';
import path from 'node:path';
import { parseYaml, validateSource, type YamlSource } from '../schema/index.js';
import { invalid, LsError, type Problem } from '../errors.js';
import { expandEnvReferences } from './env.js';
import { withCredentials } from '../secrets/credentials.js';
import { scheduleProblems } from './cron.js';
import { notificationTemplateProblems } from './notification-templates.js';
import { notificationRequestProblems } from './notification-requests.js';
import { targetOptionProblems, duplicateTargetProblems } from './target-options.js';
import { isPublicKeyLine } from '../signing/trusted-keys.js';
import schema from '../../schemas/config.schema.json' with { type: 'json' };

import { discoverConfig } from './discover.js';

export { DEFAULT_CONFIG_FILE } from './discover.js';

/**
 * lsbackup.config.yaml as written: types generated from schemas/config.schema.json
 * (engine/shapes/config.generated.ts), the schema the loader validates against.
 */
export type {
  ComponentsConfig,
  ConfigFile,
  EncryptionConfig,
  JobConfig,
  NotificationConfig,
  RetentionPolicy,
  SecretSourceConfig,
  SigningConfig,
  TargetConfig,
} from '../shapes/config.generated.js';
import type { ConfigFile, JobConfig, NotificationConfig, TargetConfig } from '../shapes/config.generated.js';

export type NotifyEvent = NonNullable<NotificationConfig['on']>[number];

/** Settings a job may set; unset ones come from the top level. */
export type JobSettings = Omit<JobConfig, 'description' | 'schedule'>;

/** The config with paths resolved against its file's directory and targets normalised. */
export interface Config extends Omit<ConfigFile, 'targets' | 'jobs'> {
  file?: string;
  targets: TargetConfig[];
  jobs?: Record<string, Omit<JobConfig, 'targets'> & { targets?: TargetConfig[] }>;
}

/** The published config schema, also what the loader validates against. */
export const configSchema = schema as typeof schema & { $id: string };

/** The config file to use: --config, $LSBACKUP_CONFIG, else the first found (engine/config/discover.ts). */
export function findConfigFile(explicit: string | undefined, cwd = process.cwd()): string | undefined {
  return discoverConfig(explicit, cwd)?.file;
}

/** Reads and validates a config file; every problem is reported at once with file:line:col. */
export async function loadConfig(file: string): Promise<Config> {
  let read: Awaited<ReturnType<typeof readCapped>>;
  try {
    read = await readCapped(file, 'config');
  } catch (e) {
    throw new LsError('EUSAGE', { message: `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
  if (read.problem) throw invalid('Config', [read.problem]);
  const { config, problems } = checkConfigText(file, read.bytes.toString('utf8'));
  if (!config) throw invalid('Config', problems);
  return config;
}

/**
 * Parse, expand ${ENV} references, validate against the schema and check cron expressions:
 * every problem at once, file:line:col. Does not throw (watchers and `config validate` use it).
 */
export function checkConfigText(
  file: string,
  text: string,
  env: NodeJS.ProcessEnv = withCredentials(),
): { config?: Config; problems: Problem[]; source: YamlSource } {
  const tooLarge = tooLargeProblem(file, 'config', Buffer.byteLength(text));
  const parsed = parseYaml(file, tooLarge ? '' : text);
  if (tooLarge) return { problems: [tooLarge], source: parsed.source };
  if (parsed.problems.length > 0) return { problems: parsed.problems, source: parsed.source };
  const envProblems = expandEnvReferences(parsed.source, env);
  const { value, problems } = validateSource<ConfigFile>(parsed.source, configSchema);
  // An unset variable leaves its reference in place; the schema's complaint about that text is noise.
  const at = (p: Problem) => `${p.line}:${p.col}`;
  const envPlaces = new Set(envProblems.map(at));
  const schemaProblems = problems.filter((p) => !envPlaces.has(at(p)));
  // Each target's options follow its plugin's own schema; checked once the file's shape is right.
  const optionProblems = schemaProblems.length === 0 && value ? targetsOptionProblems(parsed.source, value) : [];
  const all = [
    ...envProblems,
    ...schemaProblems,
    ...optionProblems,
    ...scheduleProblems(parsed.source),
    ...notificationTemplateProblems(parsed.source),
    ...notificationRequestProblems(parsed.source).filter((p) => !envPlaces.has(at(p))),
  ].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  if (all.length > 0 || value === undefined) return { problems: all, source: parsed.source };
  return { config: resolveConfig(value, file), problems: [], source: parsed.source };
}

/** An empty config (no file): defaults only. */
export function emptyConfig(): Config {
  return { targets: [] };
}

function resolveConfig(raw: ConfigFile, file: string): Config {
  const dir = path.dirname(file);
  const abs = (p: string) => (isUri(p) ? p : path.resolve(dir, p));
  const targets = (list: (string | TargetConfig)[]) => list.map((t) => (typeof t === 'string' ? { uri: abs(t) } : { ...t, uri: abs(t.uri) }));
  return {
    ...raw,
    file,
    build: raw.build === undefined ? undefined : abs(raw.build),
    recipes: raw.recipes?.map(abs),
    targets: targets(raw.targets ?? []),
    encryption: raw.encryption && {
      ...raw.encryption,
      identityFile: raw.encryption.identityFile === undefined ? undefined : abs(raw.encryption.identityFile),
    },
    signing: raw.signing && {
      key: raw.signing.key === undefined ? undefined : abs(raw.signing.key),
      // A public key line stays as it is; anything else is a file relative to the config.
      trusted: raw.signing.trusted?.map((t) => (isPublicKeyLine(t) ? t : abs(t))),
    },
    secrets: raw.secrets && {
      sources: raw.secrets.sources?.map((s) => (s.type === 'file' ? { ...s, path: abs(s.path) } : s)),
    },
    jobs:
      raw.jobs &&
      Object.fromEntries(
        Object.entries(raw.jobs).map(([name, job]) => [
          name,
          {
            ...job,
            build: job.build === undefined ? undefined : abs(job.build),
            recipes: job.recipes?.map(abs),
            targets: job.targets && targets(job.targets),
          },
        ]),
      ),
  };
}

function isUri(p: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p);
}

/** Target options of the top-level targets and of every job's targets, and targets listed twice in one list. */
function targetsOptionProblems(source: YamlSource, config: ConfigFile): Problem[] {
  const lists: [unknown[] | undefined, string[]][] = [
    [config.targets, ['targets']],
    ...Object.entries(config.jobs ?? {}).map(([name, job]): [unknown[] | undefined, string[]] => [job.targets, ['jobs', name, 'targets']]),
  ];
  return lists.flatMap(([targets, base]) => [...targetOptionProblems(source, targets, base), ...duplicateTargetProblems(source, targets, base)]);
}
