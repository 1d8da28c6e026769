import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { checkConfigText, DEFAULT_CONFIG_FILE, findConfigFile } from '../../config/load.js';
import { configSample } from '../../config/sample.js';
import { maskConfig } from '../../config/mask.js';
import { effectiveJobs } from '../../jobs/resolve.js';
import { checkJobs } from '../../jobs/check.js';
import { retentionWarnings } from '../../jobs/retention.js';
import { incrementalWarnings } from '../../jobs/backup-settings.js';
import { verifyWarnings } from '../../jobs/verify-copies.js';
import { ExitCode, formatProblem, invalid, LsError } from '../../errors.js';
import { errorEvent, printJsonEvents, problemRecord } from '../../report/json-lines.js';
import type { Redactor } from '../../secrets/types.js';
import { loadRunConfig } from '../../app/config.js';

export interface ConfigCommandOptions {
  config?: string;
  json?: boolean;
}

function requireConfigFile(options: ConfigCommandOptions): string {
  const file = findConfigFile(options.config);
  if (!file || !existsSync(file)) {
    throw new LsError('EUSAGE', {
      message: `no config file ${file ?? `./${DEFAULT_CONFIG_FILE}`}: pass --config <file>, or create one with 'lsbackup config init'`,
    });
  }
  return file;
}

/**
 * `lsbackup config validate`: every problem at once, file:line:col; exit 78 when there are any.
 * A config that reads well is then checked as `run` checks each job before any work (build,
 * recipes, selection, vars, targets, keys: engine/jobs/check.ts). Warnings (retention,
 * incremental) do not fail it.
 */
export async function configValidateCommand(options: ConfigCommandOptions, redactor: Redactor): Promise<number> {
  const file = requireConfigFile(options);
  const checked = checkConfigText(file, await readFile(file, 'utf8'));
  const { config } = checked;
  const problems = config ? (await checkJobs(config, redactor, checked.source)).problems : checked.problems;
  const effective = config ? effectiveJobs(config) : [];
  const jobs = effective.map((j) => j.name);
  const warnings = config
    ? [
        ...retentionWarnings(effective, config.encryption),
        ...incrementalWarnings(effective, config.encryption),
        ...verifyWarnings(effective, config.encryption),
      ]
    : [];
  if (options.json) {
    // The result, then (invalid) the failure as every command reports one.
    const failure = problems.length > 0 ? [errorEvent(invalid('Config', problems), ExitCode.config)] : [];
    printJsonEvents(
      [{ type: 'config.validate', valid: problems.length === 0, file, jobs, problems: problems.map(problemRecord), warnings }, ...failure],
      redactor,
    );
  } else if (problems.length > 0) {
    for (const p of problems) process.stderr.write(redactor.redact(formatProblem(p)) + '\n');
    process.stderr.write(`${problems.length} problem${problems.length > 1 ? 's' : ''} found in ${file}.\n`);
  } else {
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`OK: ${file} is valid (jobs: ${jobs.join(', ')})\n`);
  }
  return problems.length > 0 ? ExitCode.config : ExitCode.ok;
}

/** `lsbackup config show`: every job with its inherited settings merged in, secrets masked. */
export async function configShowCommand(options: ConfigCommandOptions, redactor: Redactor): Promise<number> {
  requireConfigFile(options);
  const config = await loadRunConfig(options);
  const shown = maskConfig(
    {
      file: config.file,
      ...(config.secrets ? { secrets: config.secrets } : {}),
      jobs: Object.fromEntries(effectiveJobs(config).map(({ name, ...job }) => [name, dropUndefined(job)])),
    },
    redactor,
  );
  if (options.json) printJsonEvents([{ type: 'config.show', config: shown }], redactor);
  else process.stdout.write(stringify(shown, { lineWidth: 0 }));
  return ExitCode.ok;
}

export interface ConfigInitOptions {
  output?: string;
  force?: boolean;
  json?: boolean;
}

/** `lsbackup config init`: the annotated sample, to stdout or a new file. */
export async function configInitCommand(options: ConfigInitOptions, redactor: Redactor): Promise<number> {
  const sample = configSample();
  if (!options.output) {
    if (options.json) printJsonEvents([{ type: 'config.init', sample }], redactor);
    else process.stdout.write(sample);
    return ExitCode.ok;
  }
  const file = path.resolve(options.output);
  try {
    await writeFile(file, sample, { flag: options.force ? 'w' : 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LsError('EUSAGE', { message: `${file} already exists (use --force to overwrite it)` });
    throw e;
  }
  if (options.json) printJsonEvents([{ type: 'config.init', file }], redactor);
  else process.stderr.write(`wrote ${file}\n`);
  return ExitCode.ok;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
