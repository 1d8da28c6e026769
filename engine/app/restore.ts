/**
 * A restore, set up once from its flags over the config: the trusted keys, the inventory, the
 * backup (its target may be named in the argument), the installed recipes, the host map; then
 * the cluster lock, the executors and runRestore. Asking and printing stay with the command.
 */
import type { Config } from '../config/load.js';
import { RUN_DEFAULTS } from '../config/defaults.js';
import { LsError } from '../errors.js';
import { backupSource } from '../restore/source.js';
import { parseHostMap } from '../restore/host-map.js';
import { runRestore, type RestoreResult } from '../restore/run.js';
import type { Redactor } from '../secrets/types.js';
import { loadTrustedKeys } from '../signing/index.js';
import { backupSession, type CatalogOptions } from './catalog.js';
import type { RunContext } from './context.js';
import { runExecutorFactory, type ConnectionOptions } from './executors.js';
import { clusterName, loadRunInventory, loadRunProfile, type ClusterFlags } from './inventory.js';
import { withRunLocks } from './locks.js';
import { loadRunRecipes, runVarOverrides } from './recipes.js';
import { allSecrets, resolveRecipeSecrets, warnUnmaskableSecrets } from './secrets.js';

export interface RestoreFlags extends ClusterFlags, ConnectionOptions, Omit<CatalogOptions, 'json'> {
  json?: boolean;
  only?: string[];
  skip?: string[];
  var?: string[];
  hostMap?: string[];
  skipHost?: string[];
  recipes?: string[];
  allowRecipeUpgrade?: boolean;
  /** allowed_signers / .pub files (default: config signing.trusted). */
  trustedKeys?: string[];
  trustCarriedRecipe?: boolean;
  allowRenamedCluster?: boolean;
  keepSpecialModes?: boolean;
  stagingDir?: string;
  stream?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  concurrency?: number;
  stepTimeout?: number;
  lockWait?: number;
}

export interface PreparedRestore {
  /** Holds the cluster's lock while it restores; confirm is shown the plan (not for --dry-run). */
  run: (context: RunContext, confirm: (planText: string) => Promise<boolean>) => Promise<RestoreResult>;
}

/** Everything loaded and checked, no host contacted: a bad key file, backup name or --host-map stops here. */
export async function prepareRestore(backup: string, flags: RestoreFlags, config: Config, redactor: Redactor): Promise<PreparedRestore> {
  const trustedKeys = await loadTrustedKeys(flags.trustedKeys ?? config.signing?.trusted ?? []);
  const inventory = await loadRunInventory(flags, config, redactor);
  // `latest` is the newest backup of the cluster being restored (-b / --cluster / config).
  const cluster = clusterName(flags, config, inventory);
  const session = await backupSession(backup, { ...flags, cluster }, redactor);
  const source = backupSource(session.target, session.name, session.identities);
  // The backup carries its own recipes, but runs them only when a trusted key signed it: else,
  // and with --allow-recipe-upgrade, the installed ones run.
  const installed = await loadRunRecipes(flags.recipes ?? [], config);
  let hostMap: Map<string, string>;
  try {
    hostMap = parseHostMap(flags.hostMap);
  } catch (e) {
    throw new LsError('EUSAGE', { message: (e as Error).message });
  }
  const skipHosts = new Set(flags.skipHost ?? []);
  const both = [...skipHosts].find((old) => hostMap.has(old));
  if (both !== undefined) {
    throw new LsError('EUSAGE', {
      message: `--skip-host ${both} and --host-map ${both}=${hostMap.get(both)}: a backed-up host is either left out or restored somewhere; pass one of them`,
    });
  }
  if (!flags.dryRun && !flags.yes && !process.stdin.isTTY) {
    throw new LsError('EUSAGE', { message: 'restore changes hosts and needs confirmation: pass --yes (or --dry-run to only see the plan)' });
  }
  const profile = await loadRunProfile(inventory);
  return {
    // The cluster's lock: a backup and a restore of the same hosts must not overlap. The target
    // is only read (it may be mounted read-only), so it is not locked.
    run: ({ reporter, signal }, confirm) =>
      withRunLocks({ cluster, inventory, targets: [], lockWaitSec: flags.lockWait, reporter, stagingDir: flags.stagingDir, signal }, async () =>
        runRestore({
          source,
          inventory,
          installedRecipes: installed,
          only: flags.only,
          skip: flags.skip,
          hostMap,
          skipHosts,
          allowRecipeUpgrade: flags.allowRecipeUpgrade ?? false,
          trustedKeys,
          trustCarriedRecipe: flags.trustCarriedRecipe ?? false,
          allowRenamedCluster: flags.allowRenamedCluster ?? false,
          keepSpecialModes: flags.keepSpecialModes ?? false,
          // Checked once the backup's recipes are known; config vars not at all: they were written for
          // the recipes of today's backups, not necessarily this one's.
          varOverrides: runVarOverrides(config, flags.var, undefined),
          checkCliVars: (recipes) => void runVarOverrides({ ...config, components: undefined }, flags.var, recipes),
          profileVars: profile?.vars,
          resolveSecrets: async (recipes) => {
            const secrets = allSecrets(await resolveRecipeSecrets(recipes, config, redactor, profile?.secrets));
            warnUnmaskableSecrets(redactor, reporter);
            return secrets;
          },
          defaultStepTimeoutSec: flags.stepTimeout ?? config.stepTimeout ?? RUN_DEFAULTS.stepTimeout,
          concurrency: flags.concurrency ?? config.concurrency ?? RUN_DEFAULTS.concurrency,
          stagingDir: flags.stagingDir,
          stream: flags.stream ?? false,
          dryRun: flags.dryRun ?? false,
          confirm,
          executorFactory: await runExecutorFactory(inventory, reporter, flags, redactor),
          reporter,
          signal,
        }),
      ),
  };
}
