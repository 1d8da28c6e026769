/**
 * One backup, set up the same way for `apply` (flags over the config) and for a job of
 * `run` / `schedule` (the job over the top level, engine/jobs/backup-settings.ts): settings
 * resolved once, then the signer,
 * targets, recipes, inventory, profile and secrets, the locks, the executors and runBackup.
 */
import type { ArchiveFormat } from '../archive/types.js';
import type { Config, TargetConfig } from '../config/load.js';
import { RUN_DEFAULTS } from '../config/defaults.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { runBackup, type BackupResult } from '../runner/backup.js';
import type { CompressMode } from '../runner/transport.js';
import { runningRecipes } from '../runner/plan.js';
import { loadSigner, type Signer } from '../signing/index.js';
import { loadAge } from '../crypto/load-age.js';
import { isLsError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import type { ProfileValues } from '../profiles/index.js';
import type { VarOverrides } from '../recipes/var-overrides.js';
import type { JobSetting, SettingSites } from '../config/setting-sites.js';
import { setupError, type SetupFailure } from './setup-failures.js';
import { parseIdentityFile } from '../crypto/identity-file.js';
import type { Target } from '../../targets/types.js';
import type { Redactor } from '../secrets/types.js';
import type { RunContext } from './context.js';
import { runExecutorFactory, type ConnectionOptions } from './executors.js';
import { clusterName, loadRunInventory, loadRunProfile, refuseLongClusterName, type ClusterFlags } from './inventory.js';
import { withRunLocks } from './locks.js';
import { chooseIncrementalBase, type IncrementalPolicy } from './incremental-base.js';
import { loadRunRecipes, runVarOverrides } from './recipes.js';
import { refuseUnknownRecipes } from './recipes.js';
import { resolveRunningRecipeSecrets, warnUnmaskableSecrets } from './secrets.js';
import { chosenTargets, openConfiguredTargets, type TargetFlags } from './targets.js';

/** A backup's settings with every default filled in: nothing below looks at flags again. */
export interface BackupSettings {
  /** The config, its `components` (only/skip/vars) as this run uses them. */
  config: Config;
  recipePaths: string[];
  /** Recipes already loaded and validated (the scheduler's last valid set); else loaded from recipePaths. */
  recipes?: LoadedRecipe[];
  /** The build dir or inventory (else the config's `build`). */
  build?: string;
  /** What names the cluster (see clusterName). */
  naming: ClusterFlags;
  job?: string;
  targets: TargetConfig[];
  format: ArchiveFormat;
  compress: CompressMode;
  concurrency: number;
  stepTimeoutSec: number;
  lockWaitSec: number;
  /** --var component.key=value (checked against the recipes). */
  cliVars?: string[];
  encryption: { recipients: string[]; plainMetadata: boolean };
  /** age identity that reads earlier backups' encrypted metadata: what an incremental compares with. */
  identityFile?: string;
  signKey?: string;
  connection: ConnectionOptions;
  /** --incremental/--full or a job's `incremental`: compare with the newest backup (docs/incremental.md). */
  incremental?: IncrementalPolicy;
  /** For a config's job: where each setting is written, so a failure names the key (file:line:col) and not a flag. */
  sites?: SettingSites;
}

/** The flags `apply` (and the bare `lsbackup -b -t`) takes. */
export interface BackupFlags extends ClusterFlags, TargetFlags, ConnectionOptions {
  config?: string;
  json?: boolean;
  only?: string[];
  skip?: string[];
  var?: string[];
  format?: ArchiveFormat;
  /** age recipients (age1...), repeatable. */
  encryptTo?: string[];
  plainMetadata?: boolean;
  /** age identity file that reads the encrypted metadata of earlier backups (default: config encryption.identityFile). */
  identity?: string;
  /** SSH private key that signs metadata.json (default: config signing.key). */
  signKey?: string;
  concurrency?: number;
  stepTimeout?: number;
  lockWait?: number;
  compress?: CompressMode;
  /** Back up only what changed since the newest backup of the cluster in the target. */
  incremental?: boolean;
  /** A full backup that a later --incremental can compare with. */
  full?: boolean;
}

/** `apply`: a flag wins over the config, the config over the schema's default. */
export function backupSettingsFromFlags(recipePaths: string[], flags: BackupFlags, config: Config): BackupSettings {
  return {
    config: { ...config, components: { ...config.components, only: flags.only ?? config.components?.only, skip: flags.skip ?? config.components?.skip } },
    recipePaths,
    build: flags.build,
    naming: flags,
    targets: chosenTargets(flags, config),
    format: flags.format ?? config.format ?? RUN_DEFAULTS.format,
    compress: flags.compress ?? config.compress ?? RUN_DEFAULTS.compress,
    concurrency: flags.concurrency ?? config.concurrency ?? RUN_DEFAULTS.concurrency,
    stepTimeoutSec: flags.stepTimeout ?? config.stepTimeout ?? RUN_DEFAULTS.stepTimeout,
    lockWaitSec: flags.lockWait ?? config.lockWait ?? RUN_DEFAULTS.lockWait,
    cliVars: flags.var,
    encryption: {
      recipients: flags.encryptTo ?? config.encryption?.recipients ?? [],
      plainMetadata: flags.plainMetadata ?? config.encryption?.plainMetadata ?? RUN_DEFAULTS.plainMetadata,
    },
    identityFile: flags.identity ?? config.encryption?.identityFile,
    signKey: flags.signKey ?? config.signing?.key,
    connection: flags,
    ...(flags.full ? { incremental: { mode: 'full' } } : flags.incremental ? { incremental: { mode: 'incremental' } } : {}),
  };
}

export interface PreparedBackup {
  cluster: string;
  targets: Target[];
  /** Takes the locks (checking the targets first) and runs the backup. */
  run: (context: RunContext) => Promise<BackupResult>;
}

/** What a backup loads before it contacts anything: each part from one setting, which may be wrong. */
export interface BackupSetup {
  signer?: Signer;
  identities?: string[];
  targets: Target[];
  recipes: LoadedRecipe[];
  inventory: Inventory;
  profile?: ProfileValues;
  varOverrides: VarOverrides;
}

/**
 * Loads every part of the set-up, going on past a failure so that all of them are known at once
 * (`config validate` and the scheduler report them together; a run throws them, setupError).
 * Nothing is contacted and nothing runs.
 */
export async function loadBackupSetup(settings: BackupSettings, redactor: Redactor): Promise<{ setup?: BackupSetup; failures: SetupFailure[] }> {
  const { config } = settings;
  const failures: SetupFailure[] = [];
  const attempt = async <T>(setting: JobSetting | undefined, load: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      return await load();
    } catch (e) {
      if (!isLsError(e)) throw e;
      failures.push({ setting, error: e });
      return undefined;
    }
  };
  // A missing or passphrase-protected key, recipients age cannot encrypt to: stopped here, before any target or host is touched.
  const signer = await attempt('signing.key', () => (settings.signKey ? loadSigner(settings.signKey) : undefined));
  const { recipients } = settings.encryption;
  if (recipients.length > 0) await attempt('encryption.recipients', async () => (await loadAge()).checkRecipients(recipients));
  // So is an identity that cannot read earlier backups' encrypted metadata (only an incremental reads them).
  const identities = await attempt('encryption.identityFile', () =>
    settings.incremental?.mode === 'incremental' && settings.identityFile ? parseIdentityFile(settings.identityFile) : undefined,
  );
  const targets = await attempt('targets', () => openConfiguredTargets(settings.targets, config, redactor));
  const recipes = await attempt('recipes', () => settings.recipes ?? loadRunRecipes(settings.recipePaths, config));
  const inventory = await attempt('build', () => loadRunInventory({ build: settings.build }, config, redactor));
  const { only, skip } = config.components ?? {};
  const names = settings.sites ? { only: 'components.only', skip: 'components.skip' } : undefined;
  if (recipes) await attempt('components.only', () => refuseUnknownRecipes(recipes, { only }, names));
  if (recipes) await attempt('components.skip', () => refuseUnknownRecipes(recipes, { skip }, names));
  // A var the recipes do not have: its error points at the config's line itself.
  const varOverrides = recipes && (await attempt(undefined, () => runVarOverrides(config, settings.cliVars, recipes)));
  const profile = inventory && (await attempt('build', () => loadRunProfile(inventory)));
  if (failures.length > 0 || !targets || !recipes || !inventory || !varOverrides) return { failures };
  return { setup: { signer, identities, targets, recipes, inventory, profile, varOverrides }, failures };
}

/** Everything loaded and resolved, nothing contacted: a bad key, target, recipe or inventory stops here. */
export async function prepareBackup(settings: BackupSettings, redactor: Redactor): Promise<PreparedBackup> {
  const { config } = settings;
  const { setup, failures } = await loadBackupSetup(settings, redactor);
  if (!setup) throw setupError(failures, settings.sites);
  const { signer, identities, targets, recipes, inventory, profile, varOverrides } = setup;
  const selection = { only: config.components?.only, skip: config.components?.skip };
  const secrets = await resolveRunningRecipeSecrets(recipes, inventory, selection, config, redactor, profile);
  const cluster = clusterName(settings.naming, config, inventory);
  refuseLongClusterName(cluster);
  // An incremental's base must have backed up each of these (incremental-base.ts).
  const backedUp = runningRecipes(recipes, inventory, selection).map((r) => r.recipe.metadata.name);
  return {
    cluster,
    targets,
    run: ({ reporter, signal }) => {
      // Before any target or host is reached: a credential it could print is named first.
      warnUnmaskableSecrets(redactor, reporter);
      return withRunLocks({ cluster, inventory, targets, lockWaitSec: settings.lockWaitSec, reporter, signal }, async () => {
        return runBackup({
          // Chosen under the locks: no other run of this cluster adds or prunes a backup meanwhile.
          incremental: settings.incremental
            ? await chooseIncrementalBase(settings.incremental, targets, cluster, backedUp, reporter, { identities })
            : undefined,
          recipes,
          inventory,
          targets,
          cluster,
          job: settings.job,
          format: settings.format,
          concurrency: settings.concurrency,
          defaultStepTimeoutSec: settings.stepTimeoutSec,
          compress: settings.compress,
          only: selection.only,
          skip: selection.skip,
          varOverrides,
          secrets: secrets.values,
          missingSecrets: secrets.missing,
          profileVars: profile?.vars,
          executorFactory: await runExecutorFactory(inventory, reporter, settings.connection, redactor),
          reporter,
          redactor,
          signal,
          encryption: settings.encryption,
          signer,
        });
      });
    },
  };
}
