import type { ArchiveFormat } from '../../archive/types.js';
import { runBackup } from '../../runner/backup.js';
import { openSessionTargets, type TargetFlags } from '../targets.js';
import { redactor } from '../../secrets/index.js';
import { loadSigner } from '../../signing/index.js';
import type { CompressMode } from '../../runner/transport.js';
import {
  clusterName,
  interruptSignal,
  loadSessionConfig,
  loadSessionInventory,
  loadSessionRecipes,
  resolveRunningRecipeSecrets,
  loadSessionProfile,
  sessionReporter,
  sessionExecutorFactory,
  withRunLocks,
  type ConnectionOptions,
  sessionVarOverrides,
  type CommonOptions,
} from '../session.js';

export interface ApplyOptions extends CommonOptions, TargetFlags, ConnectionOptions {
  format?: ArchiveFormat;
  /** age recipients (age1...), repeatable. */
  encryptTo?: string[];
  plainMetadata?: boolean;
  /** SSH private key that signs metadata.json (default: config signing.key). */
  signKey?: string;
  concurrency?: number;
  stepTimeout?: number;
  lockWait?: number;
  compress?: CompressMode;
}

/** `lsbackup apply [recipes...] -b <build> -t <target>`: one backup of the cluster. Returns the exit code. */
export async function applyCommand(recipePaths: string[], options: ApplyOptions): Promise<number> {
  const config = await loadSessionConfig(options);
  const signKey = options.signKey ?? config.signing?.key;
  // A missing or passphrase-protected key stops the run here, before any target or host is touched.
  const signer = signKey ? await loadSigner(signKey) : undefined;
  const opened = await openSessionTargets(options, config);
  const recipes = await loadSessionRecipes(recipePaths, config);
  const inventory = await loadSessionInventory(options, config);
  const selection = { only: options.only ?? config.components?.only, skip: options.skip ?? config.components?.skip };
  const profile = await loadSessionProfile(inventory);
  const secrets = await resolveRunningRecipeSecrets(recipes, inventory, selection, config, profile);
  const reporter = await sessionReporter(options.json);
  const interrupt = interruptSignal();
  try {
    const cluster = clusterName(options, config, inventory);
    const result = await withRunLocks({ cluster, inventory, targets: opened, lockWaitSec: options.lockWait ?? config.lockWait, reporter }, async () => runBackup({
      recipes,
      inventory,
      targets: opened,
      cluster,
      format: options.format ?? config.format ?? 'tar.gz',
      concurrency: options.concurrency ?? config.concurrency ?? 16,
      defaultStepTimeoutSec: options.stepTimeout ?? config.stepTimeout ?? 3600,
      compress: options.compress ?? config.compress ?? 'local',
      only: selection.only,
      skip: selection.skip,
      varOverrides: sessionVarOverrides(config, options.var, recipes),
      secrets: secrets.values,
      missingSecrets: secrets.missing,
      profileVars: profile?.vars,
      executorFactory: await sessionExecutorFactory(inventory, reporter, options),
      reporter,
      redactor,
      signal: interrupt.signal,
      encryption: {
        recipients: options.encryptTo ?? config.encryption?.recipients ?? [],
        plainMetadata: options.plainMetadata ?? config.encryption?.plainMetadata ?? false,
      },
      signer,
    }));
    return result.exitCode;
  } finally {
    interrupt.dispose();
    reporter.close();
  }
}
