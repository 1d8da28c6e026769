import os from 'node:os';
import path from 'node:path';
import { varOverrides, type VarOverrides } from '../recipes/var-overrides.js';
import { existsSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/load.js';
import { emptyConfig, findConfigFile, loadConfig } from '../config/load.js';
import { loadInventory, readAnsibleCfg } from '../inventory/index.js';
import { createExecutor } from '../executors/index.js';
import type { ExecutorFactory } from '../executors/pool.js';
import type { Inventory } from '../inventory/types.js';
import { loadRecipes, templatedStrings } from '../recipes/index.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { requiredSecretNames, secretNames } from '../template/index.js';
import { createSecretSource, redactor, type ResolvedSecrets } from '../secrets/index.js';
import { createReporter, type ReporterKind } from '../report/reporters.js';
import type { Reporter } from '../report/events.js';
import { bundledRecipesDir } from '../paths.js';
import { isLsError, LsError } from '../errors.js';
import { buildDirProfileValues, loadProfiles, type ProfileValues } from '../profiles/index.js';
import { notRunningReason } from '../runner/plan.js';
import type { Target } from '../../targets/types.js';
import { clusterLockFile, removeStaleTempDirs, targetLockFile, withLocks } from '../lock/index.js';
import { onProcessFault } from './process-guard.js';

/** Options every command that touches a cluster shares. */
export interface CommonOptions {
  config?: string;
  build?: string;
  json?: boolean;
  only?: string[];
  skip?: string[];
  var?: string[];
  cluster?: string;
}

/** Loads the config named with --config, else ./lsbackup.config.yaml when present, else defaults. */
export async function loadSessionConfig(options: { config?: string }): Promise<Config> {
  const file = findConfigFile(options.config);
  if (options.config && file && !existsSync(file)) {
    throw new LsError('EUSAGE', { message: `config file ${file} does not exist` });
  }
  return file ? loadConfig(file) : emptyConfig();
}

/** -b wins over the config's `build`. */
export async function loadSessionInventory(options: CommonOptions, config: Config): Promise<Inventory> {
  const build = options.build ?? config.build;
  if (!build) {
    throw new LsError('EUSAGE', { message: 'no build directory: pass -b <build dir or inventory>, or set `build` in lsbackup.config.yaml' });
  }
  const inventory = await loadInventory(path.resolve(build));
  // Connection passwords in an inventory are secrets too.
  for (const host of inventory.hosts.values()) {
    for (const key of ['ansible_password', 'ansible_ssh_pass', 'ansible_become_password', 'ansible_become_pass', 'ansible_ssh_private_key_passphrase']) {
      const v = host.vars[key];
      if (typeof v === 'string') redactor.add(v);
    }
  }
  return inventory;
}

/** Recipe paths from the command line, else the config, else the bundled recipes. */
export async function loadSessionRecipes(paths: string[], config: Config): Promise<LoadedRecipe[]> {
  const chosen = paths.length > 0 ? paths.map((p) => path.resolve(p)) : (config.recipes ?? [bundledRecipesDir]);
  return loadRecipes(chosen);
}

/**
 * Resolves every secret the recipes reference (before planning: templates render synchronously).
 * One that cannot be resolved is `missing` with the reason: only the components using it fail.
 */
export async function resolveRecipeSecrets(recipes: LoadedRecipe[], config: Config, fromManifest?: Map<string, string>): Promise<ResolvedSecrets> {
  const names = new Set<string>();
  const required = new Set<string>();
  for (const r of recipes) for (const t of templatedStrings(r.recipe)) for (const n of secretNames(t.text)) names.add(n);
  for (const r of recipes) for (const t of templatedStrings(r.recipe)) for (const n of requiredSecretNames(t.text)) required.add(n);
  const source = createSecretSource(config.secrets?.sources);
  const resolved: ResolvedSecrets = { values: new Map(), missing: new Map() };
  for (const name of names) {
    try {
      const value = await source.resolve(name);
      redactor.add(value);
      resolved.values.set(name, value);
    } catch (e) {
      if (!isLsError(e) || e.code !== 'ESECRET') throw e;
      // The build dir's manifest (through its profile) is the last source: configured ones win.
      const value = fromManifest?.get(name);
      if (value !== undefined) {
        redactor.add(value);
        resolved.values.set(name, value);
      } else if (required.has(name)) resolved.missing.set(name, e.message);
      // Used only with optional=true: renders empty, fails nothing.
    }
  }
  return resolved;
}

/** All secrets or the first one missing, for callers that need every one (restore). */
export function allSecrets(resolved: ResolvedSecrets): Map<string, string> {
  for (const [name, message] of resolved.missing) throw new LsError('ESECRET', { name, message: message.replace(/^Secret '[^']*' could not be resolved: /, '') });
  return resolved.values;
}

/** Secrets of the recipes that will run only: a cluster without Grafana needs no Grafana password. */
export function resolveRunningRecipeSecrets(
  recipes: LoadedRecipe[],
  inventory: Inventory,
  selection: { only?: string[]; skip?: string[] },
  config: Config,
  profile?: ProfileValues,
): Promise<ResolvedSecrets> {
  return resolveRecipeSecrets(recipes.filter((r) => !notRunningReason(r, inventory, selection)), config, profile?.secrets);
}

/** Values the build dir's manifest gives through a bundled profile (LambdaStack's manifest.yml), if any. */
export async function loadSessionProfile(inventory: Inventory): Promise<ProfileValues | undefined> {
  return buildDirProfileValues(inventory.baseDir, await loadProfiles());
}

/** Per-component var overrides: config `components.vars`, then `--var component.key=value`, checked against the recipes. */
export function sessionVarOverrides(config: Config, cliVars: string[] | undefined, recipes: readonly LoadedRecipe[] | undefined): VarOverrides {
  return varOverrides(config.components?.vars, cliVars, recipes, config.file);
}

export function sessionReporter(json: boolean | undefined): Promise<Reporter> {
  const kind: ReporterKind = json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';
  return createReporter(kind, redactor);
}

/** The cluster name: --cluster, the config's (for the config's own build dir), else the build directory's name. */
export function clusterName(options: CommonOptions, config: Config, inventory: Inventory): string {
  // The config's name belongs to the config's build dir: `-b other/` names its own cluster.
  const configNamesThisBuild = options.build === undefined || (config.build !== undefined && path.resolve(options.build) === config.build);
  return options.cluster ?? (configNamesThisBuild ? config.cluster : undefined) ?? path.basename(inventory.baseDir);
}

/**
 * Ctrl-C / SIGTERM / SIGHUP abort the run: running commands are killed, post-steps still run,
 * the partial archive is removed. A second signal exits at once. (SIGHUP's default action would
 * kill the process mid-run: a closed terminal or ssh session must not leave services stopped.)
 */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  // Every running command listens on this one signal: 16+ hosts at once is normal, not a leak.
  setMaxListeners(0, controller.signal);
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      process.stderr.write(`\nlsbackup: second ${sig}: exiting now; post-steps may not have run\n`);
      process.exit(130);
    }
    process.stderr.write(`\nlsbackup: ${sig} received: stopping, running post-steps (press Ctrl-C again to force)\n`);
    controller.abort(sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  // A bug's stray rejection stops the run like a signal does: post-steps still run.
  const offFault = onProcessFault((reason) => controller.abort(reason));
  return {
    signal: controller.signal,
    dispose: () => {
      for (const sig of signals) process.off(sig, onSignal);
      offFault();
    },
  };
}

/** One line per SSH key the inventory names where it is not, found in the build dir instead. */
export function keyRemapMessages(inventory: Inventory): string[] {
  const remapped = new Map([...inventory.hosts.values()].flatMap(({ connection: c }) => (c.privateKeyFileAsWritten ? [[c.privateKeyFileAsWritten, c.privateKeyFile!]] : [])));
  return [...remapped].map(([written, used]) => `ssh key ${written} (as the inventory names it) is not on this machine; using the same file in the build dir: ${used}`);
}

export interface ConnectionOptions {
  /** Record unknown host keys instead of refusing them (trust on first use). */
  trustNewHostKeys?: boolean;
  connectTimeout?: number;
}

/**
 * How the run reaches hosts: local or SSH as the inventory says, host key checking as the
 * build dir's ansible.cfg / ANSIBLE_HOST_KEY_CHECKING say, warnings to the reporter. The
 * connection is opened up front so an unreachable host fails once, with one line.
 */
export async function sessionExecutorFactory(inventory: Inventory, reporter: Reporter, options: ConnectionOptions = {}): Promise<ExecutorFactory> {
  const cfg = await readAnsibleCfg(inventory.baseDir);
  for (const message of keyRemapMessages(inventory)) reporter.emit({ type: 'warning', message });
  return async (host) => {
    const executor = createExecutor(host, {
      hostKeyChecking: cfg.hostKeyChecking,
      trustOnFirstUse: options.trustNewHostKeys,
      ...(options.connectTimeout ? { connectTimeoutMs: options.connectTimeout * 1000 } : {}),
      onWarning: (message) => reporter.emit({ type: 'warning', host: host.name, message }),
    });
    await executor.connect();
    return executor;
  };
}


/**
 * Runs fn holding the cluster's lock and the lock of every target, so two runs never collide;
 * a live holder is waited for up to --lock-wait seconds. Once the target locks are held no
 * other run is writing there, so what a killed run left behind is cleaned first.
 */
export async function withRunLocks<T>(
  run: { cluster: string; inventory: Inventory; targets: Target[]; lockWaitSec?: number; reporter: Reporter; stagingDir?: string },
  fn: () => Promise<T>,
): Promise<T> {
  // A target that is no directory cannot hold a lock file either: say what is wrong with it first.
  await Promise.all(run.targets.map((t) => t.check()));
  const locks = [
    { file: clusterLockFile(run.inventory.source), what: `cluster ${run.cluster}` },
    ...run.targets.map((t) => ({ file: targetLockFile(t), what: `target ${t.uri}` })),
  ];
  const onWarning = (message: string) => run.reporter.emit({ type: 'warning', message });
  return withLocks(locks, { waitMs: (run.lockWaitSec ?? 0) * 1000, onWarning }, async () => {
    for (const t of run.targets) {
      const removed = (await t.cleanStale?.({ cluster: run.cluster })) ?? [];
      if (removed.length > 0) onWarning(`target ${t.uri}: removed ${removed.length} leftover(s) of interrupted runs: ${removed.join(', ')}`);
    }
    // Spool and staging directories of killed runs (plaintext backup data).
    const stale = await removeStaleTempDirs([os.tmpdir(), ...(run.stagingDir ? [run.stagingDir] : [])]);
    if (stale.length > 0) onWarning(`removed ${stale.length} temp director${stale.length === 1 ? 'y' : 'ies'} left by a killed run: ${stale.join(', ')}`);
    return fn();
  });
}
