import type { ArchiveFormat } from '../archive/types.js';
import type { ComponentsConfig, Config, JobConfig, NotificationConfig, RetentionPolicy, TargetConfig } from '../config/load.js';
import { LsError } from '../errors.js';
import type { CompressMode } from '../runner/transport.js';
import { RUN_DEFAULTS } from '../config/defaults.js';
import type { Incremental } from '../shapes/config.generated.js';

/** The name of the implicit job when the config defines none: the top-level settings. */
export const DEFAULT_JOB = 'default';

/** One job with everything inherited from the top level filled in: what `run` executes. */
export interface EffectiveJob {
  name: string;
  description?: string;
  schedule?: string;
  cluster?: string;
  build?: string;
  recipes?: string[];
  targets: TargetConfig[];
  format: ArchiveFormat;
  compress: CompressMode;
  concurrency: number;
  stepTimeout: number;
  /** Seconds to wait for another process's cluster/target lock (`lsbackup run --lock-wait` wins). */
  lockWait: number;
  components: ComponentsConfig;
  retention?: RetentionPolicy;
  /** Back up only what changed since the newest backup (docs/incremental.md). */
  incremental?: Incremental;
  /** Read each stored copy back and check it after the backup; a damaged copy fails the run. */
  verify: boolean;
  notifications: NotificationConfig[];
}

type ResolvedJobConfig = NonNullable<Config['jobs']>[string];

/** Every job of a config, inherited settings merged in. No jobs: the top level is job 'default'. */
export function effectiveJobs(config: Config): EffectiveJob[] {
  const jobs = config.jobs ?? {};
  if (Object.keys(jobs).length === 0) return [merge(DEFAULT_JOB, config, {})];
  return Object.entries(jobs).map(([name, job]) => merge(name, config, job));
}

/**
 * The job `run` executes: the named one, else the only one. Several jobs and no name is a
 * usage error listing them, so a CI line never runs the wrong job by accident.
 */
export function selectJob(config: Config, name: string | undefined): EffectiveJob {
  const jobs = effectiveJobs(config);
  const names = jobs.map((j) => j.name);
  if (name === undefined) {
    if (jobs.length === 1) return jobs[0]!;
    throw new LsError('ENOJOB', { message: `the config defines ${jobs.length} jobs; choose one with --job`, jobs: names });
  }
  const job = jobs.find((j) => j.name === name);
  if (!job) throw new LsError('ENOJOB', { message: `no job named '${name}'`, jobs: names });
  return job;
}

function merge(name: string, top: Config, job: ResolvedJobConfig | JobConfig): EffectiveJob {
  const pick = <K extends keyof ResolvedJobConfig & keyof Config>(key: K) => (job as ResolvedJobConfig)[key] ?? top[key];
  return {
    name,
    description: job.description,
    schedule: job.schedule,
    cluster: pick('cluster'),
    build: pick('build'),
    recipes: pick('recipes'),
    targets: (job as ResolvedJobConfig).targets ?? top.targets,
    format: pick('format') ?? RUN_DEFAULTS.format,
    compress: pick('compress') ?? RUN_DEFAULTS.compress,
    concurrency: pick('concurrency') ?? RUN_DEFAULTS.concurrency,
    stepTimeout: pick('stepTimeout') ?? RUN_DEFAULTS.stepTimeout,
    lockWait: pick('lockWait') ?? RUN_DEFAULTS.lockWait,
    components: mergeComponents(top.components, job.components),
    retention: pick('retention'),
    incremental: pick('incremental'),
    verify: pick('verify') ?? RUN_DEFAULTS.verify,
    notifications: pick('notifications') ?? [],
  };
}

/** only/skip replace; vars merge per component, the job's value winning per variable. */
function mergeComponents(top: ComponentsConfig | undefined, job: ComponentsConfig | undefined): ComponentsConfig {
  const vars: Record<string, Record<string, unknown>> = structuredClone(top?.vars ?? {});
  for (const [component, values] of Object.entries(job?.vars ?? {})) vars[component] = { ...vars[component], ...values };
  return {
    only: job?.only ?? top?.only,
    skip: job?.skip ?? top?.skip,
    ...(Object.keys(vars).length ? { vars } : {}),
  };
}
