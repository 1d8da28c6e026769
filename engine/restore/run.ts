import { readdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { ProgressMeter } from '../report/progress.js';
import os from 'node:os';
import { createOwnedTempDir } from '../lock/index.js';
import type { Inventory } from '../inventory/types.js';
import type { LoadedRecipe } from '../recipes/types.js';
import type { Reporter, SummaryRow } from '../report/events.js';
import { ExecutorPool, type ExecutorFactory } from '../executors/pool.js';
import { CleanupStack } from '../runner/cleanup.js';
import { runStatus } from '../runner/component-run.js';
import { ExitCode, LsError } from '../errors.js';
import { didYouMean } from '../schema/closest.js';
import { refuseUnknownNames } from '../recipes/selection.js';
import { formatBytes } from '../report/format.js';
import type { BackupMetadata } from '../archive/metadata.js';
import type { BackupSource } from './source.js';
import { recordedBlocks, stageBackup, type StagedBackup } from './stage.js';
import { bytesToStage, chooseStagingMode, STAGING_MARGIN_BYTES } from './staging-mode.js';
import { bodiesFromSecondPass, SecondPass } from './second-pass.js';
import { stageChain } from './chain.js';
import { refuseForeignSidecars } from './sidecars.js';
import { madeAsAnotherBackup } from './made-as.js';
import { unrepeatedVars } from './unrepeated-vars.js';
import { describeChecks, describeRestorePlan, restorePlanEvents } from './describe-plan.js';
import { describeLackingData, stepsLackingData } from './missing-step-data.js';
import type { EventBody } from '../shapes/events.generated.js';
import { failedBackupOf, planRestore } from './plan.js';
import { executeRestore } from './execute.js';
import { parseRecipe } from '../recipes/index.js';
import { checkSignature, describeSignature, type TrustedKey } from '../signing/index.js';

export interface RestoreOptions {
  source: BackupSource;
  inventory: Inventory;
  installedRecipes: LoadedRecipe[];
  only?: string[];
  /** Components not to restore (--skip). */
  skip?: string[];
  hostMap: Map<string, string>;
  /** Backed-up hosts whose data is left out (--skip-host). */
  skipHosts?: Set<string>;
  allowRecipeUpgrade: boolean;
  /** Keys trusted to sign backups: a backup they signed runs the recipes it carries. */
  trustedKeys: TrustedKey[];
  /** Run the carried recipes of a backup no trusted key signed (--trust-carried-recipe). */
  trustCarriedRecipe: boolean;
  /** Restore another cluster's backup stored under a name of this one (--allow-renamed-cluster; made-as.ts). */
  allowRenamedCluster?: boolean;
  varOverrides?: Record<string, Record<string, unknown>>;
  /** Values from the build dir's manifest (a profile). */
  profileVars?: Record<string, Record<string, unknown>>;
  /** Throws when a --var names no component or var of the recipes restore would run. */
  checkCliVars?: (recipes: LoadedRecipe[]) => void;
  /** Resolves the secrets the given recipes reference (called once the backup's recipes are known). */
  resolveSecrets: (recipes: LoadedRecipe[]) => Promise<Map<string, string>>;
  defaultStepTimeoutSec: number;
  concurrency: number;
  /** Restore setuid/setgid bits as backed up (--keep-special-modes); by default they are stripped. */
  keepSpecialModes: boolean;
  /** Where archive bodies are staged (default: a private dir under the OS temp dir). */
  stagingDir?: string;
  /** Stage nothing: verify in one pass, then read the archive again for the hosts (--stream; also chosen when staging lacks room). */
  stream?: boolean;
  dryRun: boolean;
  /** Shown the plan; resolves true to go ahead. Not called for dry runs. */
  confirm: (planText: string) => Promise<boolean>;
  executorFactory: ExecutorFactory;
  reporter: Reporter;
  signal: AbortSignal;
}

export interface RestoreResult {
  exitCode: number;
  status: 'success' | 'partial' | 'failed' | 'dry-run' | 'cancelled';
  planText: string;
  /** The plan as --json events (a dry run). */
  planEvents?: EventBody[];
}

/** A private directory for the staged backup, under --staging-dir or the system temp dir. */
async function createStagingRoot(stagingDir: string | undefined): Promise<string> {
  try {
    return await createOwnedTempDir(stagingDir ?? os.tmpdir(), 'lsbackup-restore-');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const where = stagingDir ? `--staging-dir ${stagingDir}` : `the temp directory ${os.tmpdir()} (set TMPDIR or pass --staging-dir)`;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not writable' : (e as Error).message;
    throw new LsError('EUSAGE', { message: `cannot stage the backup: ${where} ${why}` });
  }
}

/**
 * --only and --skip name components of the backup, --host-map's old and --skip-host name its
 * hosts, --host-map's new a host of the inventory: a misspelt one would restore what the operator excluded, leave out what they chose, or
 * send a host's data where the default mapping puts it instead of where they said, with a run
 * that says success.
 */
function refuseUnknownSelection(metadata: Pick<BackupMetadata, 'hosts' | 'components'>, options: RestoreOptions): void {
  const hosts = metadata.hosts.map((h) => h.name);
  const given = [
    ...[...options.hostMap].map(([old, to]) => ({ old, option: `--host-map ${old}=${to}` })),
    ...[...(options.skipHosts ?? [])].map((old) => ({ old, option: `--skip-host ${old}` })),
  ];
  const unknown = given.find((g) => !hosts.includes(g.old));
  if (unknown !== undefined) {
    const hint = didYouMean(unknown.old, hosts);
    throw new LsError('EUSAGE', {
      message: `${unknown.option}: backup ${options.source.name} holds no host '${unknown.old}'${hint ? ` (${hint})` : ''}; its hosts: ${hosts.join(', ')}`,
    });
  }
  // A misspelt new name restored every other component, then failed this one (exit 2).
  const inventoryHosts = [...options.inventory.hosts.keys()];
  const nowhere = [...options.hostMap].find(([, to]) => !options.inventory.hosts.has(to));
  if (nowhere !== undefined) {
    const [old, to] = nowhere;
    const hint = didYouMean(to, inventoryHosts);
    throw new LsError('EUSAGE', {
      message: `--host-map ${old}=${to}: the inventory ${options.inventory.source} has no host '${to}'${hint ? ` (${hint})` : ''}; its hosts: ${inventoryHosts.join(', ')}`,
    });
  }
  refuseUnknownNames(
    metadata.components.map((c) => c.name),
    options,
    { only: '--only', skip: '--skip', absent: `backup ${options.source.name} does not hold`, listed: 'its components' },
  );
}

/**
 * Restore: verify the whole backup and stage what is needed BEFORE touching any host, show the
 * plan and ask, then run each component's restore pre/apply/post on the mapped hosts.
 */
export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const cleanup = new CleanupStack();
  try {
    const stagingRoot = await createStagingRoot(options.stagingDir);
    cleanup.defer('remove the staging directory', () => rm(stagingRoot, { recursive: true, force: true }));
    const selected = (c: string) => (!options.only?.length || options.only.includes(c)) && !options.skip?.includes(c);

    const expectedSha256 = await options.source.sidecarSha256(options.source.name);
    const sidecar = await options.source.sidecarMetadata().catch(() => undefined);
    // A misspelt name is said before the whole backup is read (an hour for a large one in S3),
    // by its metadata sidecar when it reads; the archive's own metadata.json decides again below.
    if (sidecar) {
      refuseUnknownSelection(sidecar, options);
      madeAsAnotherBackup(options.source.name, sidecar, options.allowRenamedCluster ?? false);
    }
    const needed = sidecar ? bytesToStage(sidecar, selected) : await options.source.storedSize();
    let mode = await chooseStagingMode({ requested: options.stream ?? false, stagingDir: stagingRoot, needed });
    refuseZipStream(mode, options.source);
    if (mode.why) options.reporter.emit({ type: 'warning', message: mode.why });
    const pass = { stagingRoot, selected, expectedSha256 };
    let staged: StagedBackup;
    try {
      staged = await verifyPass(options, { ...pass, stream: mode.stream });
    } catch (e) {
      // The estimate fell short (no metadata sidecar, data that compressed well) and no host is touched yet: stream instead.
      if (mode.stream || options.source.format === 'zip' || !(e instanceof LsError && e.details.noSpace === true)) throw e;
      const why = `${stagingRoot} filled up while staging: restoring in stream mode instead (nothing staged; the archive is read again from its target)`;
      mode = { stream: true, why };
      options.reporter.emit({ type: 'warning', message: why });
      await emptyDirectory(stagingRoot);
      staged = await verifyPass(options, { ...pass, stream: true });
    }
    if (!mode.stream) await checkFreeSpace(stagingRoot, options.source.name);
    // A signature that does not match metadata.json means the backup was altered: refuse it whole.
    const signature = checkSignature(staged.metadataBytes, staged.signature, options.trustedKeys);
    if (signature.status === 'bad')
      throw new LsError('ERESTORE', { backup: options.source.name, message: `metadata.json has a BAD signature: ${signature.reason}` });

    // Only what will be restored: a component skipped at backup time (not in that inventory) needs
    // neither its installed recipe nor that recipe's secrets.
    refuseUnknownSelection(staged.metadata, options);
    const madeAs = madeAsAnotherBackup(options.source.name, staged.metadata, options.allowRenamedCluster ?? false);
    const restored = staged.metadata.components.filter((c) => c.hosts.some((h) => h.status === 'success') && selected(c.name));
    const recipeNames = new Set(restored.map((c) => c.recipe.name));
    const installed = options.installedRecipes.filter((r) => recipeNames.has(r.recipe.metadata.name));
    const carried = [...staged.recipes].flatMap(([file, bytes]) => parseRecipe(file, bytes).loaded ?? []);
    options.checkCliVars?.([...carried, ...installed]);
    const secrets = await options.resolveSecrets([...carried, ...installed]);
    const components = planRestore(staged, options.inventory, {
      only: options.only,
      skip: options.skip,
      hostMap: options.hostMap,
      skipHosts: options.skipHosts,
      installed,
      allowRecipeUpgrade: options.allowRecipeUpgrade,
      carriedTrusted: signature.status === 'trusted' || options.trustCarriedRecipe,
      varOverrides: options.varOverrides,
      profileVars: options.profileVars,
      secrets,
      defaultStepTimeoutSec: options.defaultStepTimeoutSec,
    });
    const details = {
      checked: describeChecks(expectedSha256) + (mode.stream ? ` ${describeStreamMode(staged)}` : ''),
      signature: describeSignature(signature),
      keepSpecialModes: options.keepSpecialModes,
      madeAs,
    };
    const planText = describeRestorePlan(options.source.name, staged, components, details);
    // Said in the run's output too (also with -q, --yes): the restore succeeds without these hosts' data.
    const unrestored = components.flatMap((c) =>
      (c.skipReason ? [] : (c.withoutData ?? [])).flatMap((host) => {
        const why = failedBackupOf(staged.metadata, c.name, host);
        return why ? [{ component: c.name, host, message: `nothing restored onto it: ${why}` }] : [];
      }),
    );
    const runnable = components.filter((c) => !c.skipReason);
    // Said before the prompt and in the run's output (-q too), not only in the plan.
    if (madeAs) options.reporter.emit({ type: 'warning', message: madeAs.message });
    for (const warning of unrepeatedVars(staged.metadata, components, options.varOverrides)) options.reporter.emit({ type: 'warning', ...warning });
    if (options.dryRun) {
      return { exitCode: ExitCode.ok, status: 'dry-run', planText, planEvents: restorePlanEvents(options.source.name, staged, components, details) };
    }
    if (components.some((c) => c.untrustedRecipe)) {
      throw new LsError('ERESTORE', { backup: options.source.name, message: `a recipe it carries would run unchecked:\n${planText}` });
    }
    if (runnable.length === 0) {
      throw new LsError('ERESTORE', { backup: options.source.name, message: `nothing to restore:\n${planText}` });
    }
    const lacking = stepsLackingData(components, staged);
    if (lacking.length > 0) {
      throw new LsError('ERESTORE', { backup: options.source.name, message: `${describeLackingData(lacking, components, installed)}\n${planText}` });
    }
    if (!(await options.confirm(planText))) return { exitCode: ExitCode.failed, status: 'cancelled', planText };

    options.reporter.emit({
      type: 'run.start',
      operation: 'restore',
      backupId: staged.metadata.backupId,
      cluster: staged.metadata.cluster,
      components: runnable.map((c) => c.name),
      hosts: new Set(runnable.flatMap((c) => c.tasks.map((t) => t.hostPlan.host.name))).size,
    });
    for (const warning of unrestored) options.reporter.emit({ type: 'warning', ...warning });
    const executors = new ExecutorPool(options.executorFactory);
    cleanup.defer('close connections', () => executors.closeAll());
    const stream = mode.stream ? streamedBodies(options, staged) : undefined;
    const outcomes = await executeRestore(components, {
      stream,
      staged,
      executors,
      concurrency: options.concurrency,
      signal: options.signal,
      reporter: options.reporter,
      keepSpecialModes: options.keepSpecialModes,
    });

    const status = options.signal.aborted ? 'failed' : runStatus(outcomes);
    const exitCode = status === 'success' ? ExitCode.ok : status === 'partial' ? ExitCode.partial : ExitCode.failed;
    const summary: SummaryRow[] = outcomes.flatMap((o) =>
      o.hosts.length === 0
        ? [{ component: o.name, host: '-', status: o.status, bytes: 0, durationMs: 0, error: o.error }]
        : o.hosts.map((h) => ({
            component: o.name,
            host: h.source === h.name ? h.name : `${h.source} -> ${h.name}`,
            status: h.status,
            bytes: h.bytes,
            durationMs: h.durationMs,
            error: h.error,
          })),
    );
    options.reporter.emit({ type: 'run.end', status, exitCode, durationMs: Date.now() - started, summary });
    return { exitCode, status, planText };
  } finally {
    await cleanup.runAll();
  }
}

/**
 * The pass before any host is touched: the backup read once, every entry checked (and, when
 * staged, the bodies restore needs written under stagingRoot); an incremental's bases likewise.
 */
async function verifyPass(
  options: RestoreOptions,
  pass: { stagingRoot: string; selected: (component: string) => boolean; expectedSha256: string | undefined; stream: boolean },
): Promise<StagedBackup> {
  // Staging reads the whole backup before any host is touched: its progress shows against the
  // stored size. Stream mode stages nothing: that pass only reads and checks, as verify does.
  const operation = pass.stream ? 'verify' : 'stage';
  const staging = new ProgressMeter(options.reporter, operation, { totalBytes: await options.source.storedSize() });
  let newest;
  try {
    const opened = await options.source.openMeasured(staging.counter());
    newest = await stageBackup(opened.stream, {
      backup: options.source.name,
      format: options.source.format,
      stagingDir: pass.stagingRoot,
      // Stream mode verifies every entry and stages none.
      components: pass.stream ? () => false : pass.selected,
      expectedSha256: pass.expectedSha256,
      storedSha256: opened.storedSha256,
      recordBlocks: pass.stream,
      onEntry: staging.entryCounter(),
    });
  } finally {
    staging.stop();
  }
  await refuseForeignSidecars(options.source, newest);
  // An incremental: the files it refers to, from the backups of its chain (all checked here, before any host).
  return stageChain(newest, options.source, { stagingDir: pass.stagingRoot, components: pass.selected, stream: pass.stream });
}

function refuseZipStream(mode: { stream: boolean; why?: string }, source: BackupSource): void {
  if (mode.stream && source.format === 'zip') {
    throw new LsError('ERESTORE', {
      backup: source.name,
      message: `${mode.why ?? '--stream'}; but a zip is read only from a whole local copy (its directory is at its end): pass --staging-dir on a disk with room for it, or back up as tar.gz or tar.zst`,
    });
  }
}

async function emptyDirectory(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { recursive: true, force: true });
}

/** Staging needs room; say so plainly instead of failing half-way with ENOSPC. */
async function checkFreeSpace(dir: string, backup: string): Promise<void> {
  const s = await statfs(dir);
  if (s.bavail * s.bsize < STAGING_MARGIN_BYTES) {
    throw new LsError('ERESTORE', {
      backup,
      message: `less than ${formatBytes(STAGING_MARGIN_BYTES)} free in ${dir} after staging; pass --staging-dir on a larger disk, or --stream to stage nothing`,
    });
  }
}

/** Stream mode: the steps' bodies from a second pass over the backup and the bases it refers to. */
function streamedBodies(options: RestoreOptions, staged: StagedBackup): NonNullable<Parameters<typeof executeRestore>[1]['stream']> {
  const { source, reporter } = options;
  const archives = [
    { name: source.name, order: staged.order, blocks: recordedBlocks(staged, source.name), source, format: source.format },
    ...(staged.bases ?? []).map((b) => {
      const member = source.sibling(b.name);
      return { ...b, source: member, format: member.format };
    }),
  ];
  const pass = new SecondPass(archives, (message) => reporter.emit({ type: 'warning', message }));
  return { openBodies: bodiesFromSecondPass(pass, staged, source.name), refused: () => pass.refused() };
}

function describeStreamMode(staged: StagedBackup): string {
  const archives = 1 + (staged.bases?.length ?? 0);
  return `Stream mode: nothing staged; the hosts get each entry as the archive${archives > 1 ? `s of the chain (${archives}) are` : ' is'} read again, checked against this pass.`;
}

export { formatBytes };
