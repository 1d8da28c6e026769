import type { ArchiveFormat } from '../../archive/types.js';
import { runBackup } from '../../runner/backup.js';
import { openTarget } from '../../../targets/registry.js';
import { redactor } from '../../secrets/index.js';
import { LsError } from '../../errors.js';
import type { TargetConfig } from '../../config/load.js';
import {
  clusterName,
  interruptSignal,
  loadSessionConfig,
  loadSessionInventory,
  loadSessionRecipes,
  resolveRecipeSecrets,
  sessionReporter,
  sessionExecutorFactory,
  withRunLocks,
  type ConnectionOptions,
  varOverrides,
  type CommonOptions,
} from '../session.js';

export interface ApplyOptions extends CommonOptions, ConnectionOptions {
  target?: string[];
  format?: ArchiveFormat;
  concurrency?: number;
  stepTimeout?: number;
  lockWait?: number;
}

/** `lsbackup apply [recipes...] -b <build> -t <target>`: one backup of the cluster. Returns the exit code. */
export async function applyCommand(recipePaths: string[], options: ApplyOptions): Promise<number> {
  const config = await loadSessionConfig(options);
  const targets: TargetConfig[] = options.target && options.target.length > 0 ? options.target.map((uri) => ({ uri })) : config.targets;
  if (targets.length === 0) {
    throw new LsError('EUSAGE', { message: 'no target: pass -t <directory or URI>, or set `targets` in lsbackup.config.yaml' });
  }
  const recipes = await loadSessionRecipes(recipePaths, config);
  const inventory = await loadSessionInventory(options, config);
  const opened = targets.map((t) => openTarget(t.uri, t.options));
  const secrets = await resolveRecipeSecrets(recipes, config);
  const reporter = sessionReporter(options.json);
  const interrupt = interruptSignal();
  try {
    const cluster = clusterName(options, config, inventory);
    const result = await withRunLocks({ cluster, inventory, targets: opened, lockWaitSec: options.lockWait, reporter }, async () => runBackup({
      recipes,
      inventory,
      targets: opened,
      cluster,
      format: options.format ?? config.format ?? 'tar.gz',
      concurrency: options.concurrency ?? config.concurrency ?? 16,
      defaultStepTimeoutSec: options.stepTimeout ?? config.stepTimeout ?? 3600,
      only: options.only ?? config.components?.only,
      skip: options.skip ?? config.components?.skip,
      varOverrides: varOverrides(config, options.var),
      secrets,
      executorFactory: await sessionExecutorFactory(inventory, reporter, options),
      reporter,
      redactor,
      signal: interrupt.signal,
    }));
    return result.exitCode;
  } finally {
    interrupt.dispose();
    reporter.close();
  }
}
