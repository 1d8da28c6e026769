/**
 * `lsbackup recipe test`: one recipe's round trip on a real inventory, stage by stage —
 * validate, seed, apply, verify, destroy, restore, check — each reported as a `stage` event,
 * stopping at the first that fails. apply and restore are the ordinary backup and restore set-ups
 * (only this recipe's component); seed, destroy and check are the recipe's spec.tests steps.
 */
import os from 'node:os';
import { rm } from 'node:fs/promises';
import type { Config } from '../config/load.js';
import { RUN_DEFAULTS } from '../config/defaults.js';
import { ExitCode, invalid, isLsError, LsError } from '../errors.js';
import { ExecutorPool } from '../executors/pool.js';
import { createOwnedTempDir } from '../lock/owned-temp-dir.js';
import { authoringProblems, loadRecipes } from '../recipes/index.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { verifyBackup } from '../catalog/verify.js';
import { runTestStage, type TestStage } from '../runner/test-stage.js';
import { backupSettingsFromFlags, prepareBackup } from './backup.js';
import type { RunContext } from './context.js';
import { runExecutorFactory, type ConnectionOptions } from './executors.js';
import { clusterName, loadRunInventory, loadRunProfile, type ClusterFlags } from './inventory.js';
import { runVarOverrides } from './recipes.js';
import { prepareRestore } from './restore.js';
import { resolveRunningRecipeSecrets } from './secrets.js';

export interface RecipeTestFlags extends ClusterFlags, ConnectionOptions {
  config?: string;
  json?: boolean;
  /** Where the test backup goes (default: a temporary local directory, removed afterwards). */
  target?: string[];
  var?: string[];
  /** Keep the temporary target directory (its path is reported). */
  keep?: boolean;
  stepTimeout?: number;
}

export const STAGES = ['validate', 'seed', 'apply', 'verify', 'destroy', 'restore', 'check'] as const;
export type Stage = (typeof STAGES)[number];

export interface RecipeTestResult {
  exitCode: number;
  recipe: string;
  /** The stages that passed, in order; `failed` is the one that did not (absent: the round trip held). */
  passed: Stage[];
  failed?: { stage: Stage; error: string; cause: unknown };
  /** The target the test backup went to, when it is still there (-t, or --keep). */
  keptTarget?: string;
}

/** A stage that did not hold: its message is the stage's error, the run goes no further. */
class StageFailure extends Error {}

export async function runRecipeTest(recipePath: string, flags: RecipeTestFlags, config: Config, context: RunContext): Promise<RecipeTestResult> {
  const { reporter, redactor, signal } = context;
  const passed: Stage[] = [];
  let recipeName = recipePath;
  const stage = async <T>(name: Stage, work: () => Promise<T>): Promise<T> => {
    reporter.emit({ type: 'stage', recipe: recipeName, stage: name, status: 'start' });
    const started = Date.now();
    try {
      const value = await work();
      if (signal.aborted) throw new StageFailure('interrupted');
      reporter.emit({ type: 'stage', recipe: recipeName, stage: name, status: 'success', durationMs: Date.now() - started });
      passed.push(name);
      return value;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      reporter.emit({ type: 'stage', recipe: recipeName, stage: name, status: 'failed', durationMs: Date.now() - started, error });
      throw Object.assign(e instanceof StageFailure || isLsError(e) ? e : new StageFailure(error), { stage: name });
    }
  };

  let targetDir: string | undefined;
  let keptTarget: string | undefined = flags.target?.[0];
  let executors: ExecutorPool | undefined;
  try {
    const recipe = await stage('validate', () => loadTestedRecipe(recipePath));
    recipeName = recipe.recipe.metadata.name;
    const inventory = await loadRunInventory(flags, config, redactor);
    const selection = { only: [recipeName] };
    const profile = await loadRunProfile(inventory);
    const secrets = await resolveRunningRecipeSecrets([recipe], inventory, selection, config, redactor, profile);
    executors = new ExecutorPool(await runExecutorFactory(inventory, reporter, flags, redactor));
    const stepTimeoutSec = flags.stepTimeout ?? config.stepTimeout ?? RUN_DEFAULTS.stepTimeout;
    const testStage = (name: TestStage) =>
      stage(name, async () => {
        const failure = await runTestStage({
          recipe,
          inventory,
          stage: name,
          backupId: `recipe-test-${name}`,
          cluster: clusterName(flags, config, inventory),
          startedAt: new Date(),
          varOverrides: runVarOverrides(config, flags.var, [recipe]),
          secrets: secrets.values,
          missingSecrets: secrets.missing,
          profileVars: profile?.vars,
          defaultStepTimeoutSec: stepTimeoutSec,
          executors: executors!,
          reporter,
          signal,
        });
        if (failure) throw new StageFailure(failure);
      });
    // Only this component, to the chosen target or a private directory of its own.
    if (!keptTarget) {
      targetDir = await createOwnedTempDir(os.tmpdir(), 'lsbackup-recipe-test-');
      if (flags.keep) keptTarget = targetDir;
    }
    const target = [keptTarget ?? targetDir!];
    const scoped = { ...config, components: { ...config.components, only: [recipeName], skip: undefined } };

    await testStage('seed');
    const backup = await stage('apply', async () => {
      const prepared = await prepareBackup(backupSettingsFromFlags([recipePath], { ...flags, target, only: [recipeName] }, scoped), redactor);
      const result = await prepared.run(context);
      if (result.status !== 'success' || !result.archive) throw new StageFailure(`backup ${result.status}${result.archive ? ` (${result.archive})` : ''}`);
      return { archive: result.archive, target: prepared.targets[0]! };
    });
    await stage('verify', async () => {
      const report = await verifyBackup(backup.target, backup.archive);
      if (!report.ok) throw new StageFailure(report.problems.map((p) => p.message).join('; '));
    });
    await testStage('destroy');
    await stage('restore', async () => {
      const restoreFlags = { ...flags, target, only: [recipeName], recipes: [recipePath], yes: true };
      const prepared = await prepareRestore(backup.archive, restoreFlags, scoped, redactor);
      const result = await prepared.run(context, async () => true);
      if (result.status !== 'success') throw new StageFailure(`restore ${result.status}`);
    });
    await testStage('check');
    return { exitCode: ExitCode.ok, recipe: recipeName, passed, keptTarget };
  } catch (e) {
    const failedStage = (e as { stage?: Stage }).stage;
    // A problem before any stage ran (a bad inventory, flag or secret) is the usual error.
    if (!failedStage) throw e;
    const exitCode = failedStage === 'validate' && isLsError(e) ? e.exitCode : ExitCode.roundTripFailed;
    return { exitCode, recipe: recipeName, passed, failed: { stage: failedStage, error: (e as Error).message, cause: e }, keptTarget };
  } finally {
    await executors?.closeAll();
    if (targetDir && !flags.keep) await rm(targetDir, { recursive: true, force: true });
  }
}

/** The one recipe in the file, with a tests section: else the problem, named and placed. */
async function loadTestedRecipe(file: string): Promise<LoadedRecipe> {
  const recipes = await loadRecipes([file]);
  if (recipes.length !== 1) {
    throw new LsError('EUSAGE', { message: `recipe test takes one recipe file; ${file} holds ${recipes.length}` });
  }
  const recipe = recipes[0]!;
  const problems = authoringProblems(recipes);
  if (problems.length) throw invalid('Recipes', problems);
  if (!recipe.recipe.spec.tests) {
    throw new LsError('EINVALID', {
      what: `Recipe ${recipe.recipe.metadata.name}`,
      problems: [
        {
          file: recipe.file,
          message: 'has no spec.tests section, so recipe test cannot prove it',
          hint: 'add spec.tests with seed, destroy and check steps (docs/recipes.md, "Testing a recipe")',
        },
      ],
    });
  }
  return recipe;
}
