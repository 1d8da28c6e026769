import type { ArchiveFormat } from '../../archive/types.js';
import { runBackup } from '../../runner/backup.js';
import { openSessionTargets, type TargetFlags } from '../targets.js';
import { redactor } from '../../secrets/index.js';
import type { CompressMode } from '../../runner/transport.js';
import {
  clusterName,
  interruptSignal,
  loadSessionConfig,
  loadSessionInventory,
  loadSessionRecipes,
  resolveRunningRecipeSecrets,
  sessionReporter,
  sessionExecutorFactory,
  withRunLocks,
  type ConnectionOptions,
  varOverrides,
  type CommonOptions,
} from '../session.js';

export interface ApplyOptions extends CommonOptions, TargetFlags, ConnectionOptions {
  format?: ArchiveFormat;
  /** age recipients (age1...), repeatable. */
  encryptTo?: string[];
  plainMetadata?: boolean;
  concurrency?: number;
  stepTimeout?: number;
  lockWait?: number;
  compress?: CompressMode;
}

/** `lsbackup apply [recipes...] -b <build> -t <target>`: one backup of the cluster. Returns the exit code. */
export async function applyCommand(recipePaths: string[], options: ApplyOptions): Promise<number> {
  const config = await loadSessionConfig(options);
  const opened = await openSessionTargets(options, config);
  const recipes = await loadSessionRecipes(recipePaths, config);
  const inventory = await loadSessionInventory(options, config);
  const selection = { only: options.only ?? config.components?.only, skip: options.skip ?? config.components?.skip };
  const secrets = await resolveRunningRecipeSecrets(recipes, inventory, selection, config);
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
      varOverrides: varOverrides(config, options.var),
      secrets,
      executorFactory: await sessionExecutorFactory(inventory, reporter, options),
      reporter,
      redactor,
      signal: interrupt.signal,
      encryption: {
        recipients: options.encryptTo ?? config.encryption?.recipients ?? [],
        plainMetadata: options.plainMetadata ?? config.encryption?.plainMetadata ?? false,
      },
    }));
    return result.exitCode;
  } finally {
    interrupt.dispose();
    reporter.close();
  }
}
