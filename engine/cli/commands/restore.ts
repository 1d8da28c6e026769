import { createInterface } from 'node:readline/promises';
import { backupSource } from '../../restore/source.js';
import { backupSession, type CatalogOptions } from '../catalog.js';
import { runRestore } from '../../restore/run.js';
import { parseHostMap } from '../../restore/host-map.js';
import { redactor } from '../../secrets/index.js';
import { LsError } from '../../errors.js';
import { loadTrustedKeys } from '../../signing/index.js';
import {
  interruptSignal,
  loadSessionConfig,
  loadSessionInventory,
  loadSessionRecipes,
  resolveRecipeSecrets,
  loadSessionProfile,
  allSecrets,
  sessionExecutorFactory,
  sessionReporter,
  sessionVarOverrides,
  withRunLocks,
  clusterName,
  type CommonOptions,
  type ConnectionOptions,
} from '../session.js';

export interface RestoreCommandOptions extends CommonOptions, ConnectionOptions, Omit<CatalogOptions, 'json'> {
  hostMap?: string[];
  recipes?: string[];
  allowRecipeUpgrade?: boolean;
  /** allowed_signers / .pub files (default: config signing.trusted). */
  trustedKeys?: string[];
  trustCarriedRecipe?: boolean;
  keepSpecialModes?: boolean;
  stagingDir?: string;
  dryRun?: boolean;
  yes?: boolean;
  concurrency?: number;
  stepTimeout?: number;
  lockWait?: number;
}

/** `lsbackup restore <backup> -b <build>`. Returns the exit code. */
export async function restoreCommand(backup: string, options: RestoreCommandOptions): Promise<number> {
  const config = await loadSessionConfig(options);
  const trustedKeys = await loadTrustedKeys(options.trustedKeys ?? config.signing?.trusted ?? []);
  const inventory = await loadSessionInventory(options, config);
  // `latest` is the newest backup of the cluster being restored (-b / --cluster / config).
  const cluster = clusterName(options, config, inventory);
  const session = await backupSession(backup, { ...options, cluster });
  const source = backupSource(session.target, session.name, session.identities);
  // The backup carries its own recipes, but runs them only when a trusted key signed it: else,
  // and with --allow-recipe-upgrade, the installed ones run.
  const installed = await loadSessionRecipes(options.recipes ?? [], config);
  let hostMap: Map<string, string>;
  try {
    hostMap = parseHostMap(options.hostMap);
  } catch (e) {
    throw new LsError('EUSAGE', { message: (e as Error).message });
  }
  if (!options.dryRun && !options.yes && !process.stdin.isTTY) {
    throw new LsError('EUSAGE', { message: 'restore changes hosts and needs confirmation: pass --yes (or --dry-run to only see the plan)' });
  }
  const profile = await loadSessionProfile(inventory);
  const reporter = await sessionReporter(options.json);
  const interrupt = interruptSignal();
  try {
    // The cluster's lock: a backup and a restore of the same hosts must not overlap. The target
    // is only read (it may be mounted read-only), so it is not locked.
    const locked = { cluster, inventory, targets: [], lockWaitSec: options.lockWait, reporter, stagingDir: options.stagingDir };
    const result = await withRunLocks(locked, async () => runRestore({
      source,
      inventory,
      installedRecipes: installed,
      only: options.only,
      hostMap,
      allowRecipeUpgrade: options.allowRecipeUpgrade ?? false,
      trustedKeys,
      trustCarriedRecipe: options.trustCarriedRecipe ?? false,
      keepSpecialModes: options.keepSpecialModes ?? false,
      // Checked once the backup's recipes are known; config vars not at all: they were written for
      // the recipes of today's backups, not necessarily this one's.
      varOverrides: sessionVarOverrides(config, options.var, undefined),
      checkCliVars: (recipes) => void sessionVarOverrides({ ...config, components: undefined }, options.var, recipes),
      profileVars: profile?.vars,
      resolveSecrets: async (recipes) => allSecrets(await resolveRecipeSecrets(recipes, config, profile?.secrets)),
      defaultStepTimeoutSec: options.stepTimeout ?? config.stepTimeout ?? 3600,
      concurrency: options.concurrency ?? config.concurrency ?? 16,
      stagingDir: options.stagingDir,
      dryRun: options.dryRun ?? false,
      confirm: async (planText) => {
        process.stderr.write(redactor.redact(planText) + '\n');
        if (options.yes) return true;
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          return /^y(es)?$/i.test((await rl.question('Restore now? This overwrites data on the hosts above. [y/N] ')).trim());
        } finally {
          rl.close();
        }
      },
      executorFactory: await sessionExecutorFactory(inventory, reporter, options),
      reporter,
      signal: interrupt.signal,
    }));
    if (result.status === 'dry-run') {
      process.stdout.write(redactor.redact(result.planText) + '\nDry run: the checks above passed; no host was touched.\n');
    } else if (result.status === 'cancelled') {
      process.stderr.write('Restore cancelled; no host was touched.\n');
    }
    return result.exitCode;
  } finally {
    interrupt.dispose();
    reporter.close();
  }
}
