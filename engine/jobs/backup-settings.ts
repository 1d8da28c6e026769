import type { BackupSettings } from '../app/backup.js';
import type { ConnectionOptions } from '../app/executors.js';
import type { Config, EncryptionConfig } from '../config/load.js';
import { RUN_DEFAULTS } from '../config/defaults.js';
import type { LoadedRecipe } from '../recipes/types.js';
import type { CompressMode } from '../runner/transport.js';
import type { EffectiveJob } from './resolve.js';
import type { IncrementalPolicy } from '../app/incremental-base.js';
import { parseWithin } from '../catalog/retention.js';
import { metadataSealedFromJobs } from './retention.js';
import { jobSettingSites, type SettingSites } from '../config/setting-sites.js';
import type { YamlSource } from '../schema/index.js';

/** What `run` / `schedule` may set over a job. */
export interface JobOverrides {
  recipes?: LoadedRecipe[];
  compress?: CompressMode;
  signKey?: string;
  lockWaitSec?: number;
  /** --known-hosts / --ssh-key of `lsbackup run`. */
  connection?: Pick<ConnectionOptions, 'knownHosts' | 'sshKey'>;
  /** `lsbackup run --full`: a full backup now, whatever the job's `incremental` says. */
  full?: boolean;
  /** The config file as already parsed (`config validate`); else it is read again to locate a failure. */
  configSource?: YamlSource;
}

/** A job of the config (its defaults already filled in by effectiveJobs), `run`'s flags over it. */
export function backupSettingsFromJob(config: Config, job: EffectiveJob, overrides: JobOverrides): BackupSettings {
  return {
    config: { ...config, components: job.components },
    recipePaths: job.recipes ?? [],
    recipes: overrides.recipes,
    build: job.build,
    // The job's cluster already inherits the top level's; its build names no cluster of its own.
    naming: { cluster: job.cluster },
    job: job.name,
    targets: job.targets,
    format: job.format,
    compress: overrides.compress ?? job.compress,
    concurrency: job.concurrency,
    stepTimeoutSec: job.stepTimeout,
    lockWaitSec: overrides.lockWaitSec ?? job.lockWait,
    encryption: { recipients: config.encryption?.recipients ?? [], plainMetadata: config.encryption?.plainMetadata ?? RUN_DEFAULTS.plainMetadata },
    identityFile: config.encryption?.identityFile,
    signKey: overrides.signKey ?? config.signing?.key,
    connection: overrides.connection ?? {},
    incremental: incrementalPolicy(job, overrides.full),
    sites: config.file ? settingSites(config, job, overrides) : undefined,
  };
}

/** Where the job's settings are written; --sign-key of `run` is not in the config. */
function settingSites(config: Config, job: EffectiveJob, overrides: JobOverrides): SettingSites {
  const inFile = jobSettingSites(config.file!, job.name, Object.keys(config.jobs ?? {}).length > 0, overrides.configSource);
  return (setting) => (setting === 'signing.key' && overrides.signKey ? undefined : inFile(setting));
}

/** The job's `incremental` as the run applies it; --full forces a full (still recording signatures). */
function incrementalPolicy(job: EffectiveJob, full: boolean | undefined): IncrementalPolicy | undefined {
  if (full) return { mode: 'full' };
  if (!job.incremental) return undefined;
  const { fullEvery, maxChain } = job.incremental;
  return { mode: 'incremental', ...(fullEvery ? { fullEveryMs: parseWithin(fullEvery) } : {}), ...(maxChain ? { maxChain } : {}) };
}

/** What `config validate` warns about incremental jobs: a base they could never read. */
export function incrementalWarnings(jobs: EffectiveJob[], encryption: EncryptionConfig | undefined): string[] {
  if (!metadataSealedFromJobs(encryption) || !jobs.some((j) => j.incremental)) return [];
  return [
    'incremental jobs cannot read the encrypted metadata of earlier backups without encryption.identityFile: every run would be a full (set encryption.identityFile, or encryption.plainMetadata: true)',
  ];
}
