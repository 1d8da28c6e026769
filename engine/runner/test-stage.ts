/**
 * One stage of `lsbackup recipe test` (spec.tests: seed, destroy or check) on the component's
 * hosts: rendered by the plan like any phase (operation `tests`) and run by the same phase
 * runner, so templating, `when`, `become`, `env`, timeouts and step events are the backup's own.
 */
import type { ExecutorPool } from '../executors/pool.js';
import type { Inventory } from '../inventory/types.js';
import type { Reporter } from '../report/events.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { runComponentHosts } from './component-run.js';
import { clusterOfHost, planRun, type PlanOptions } from './plan.js';
import { runPhases } from './run-phases.js';
import { stepRecorder } from './step-result.js';
import type { HostOutcome, HostPlan } from './types.js';

export type TestStage = 'seed' | 'destroy' | 'check';

export interface TestStageOptions extends Omit<PlanOptions, 'operation' | 'only' | 'skip'> {
  recipe: LoadedRecipe;
  inventory: Inventory;
  stage: TestStage;
  executors: ExecutorPool;
  reporter: Reporter;
  signal: AbortSignal;
}

/** Runs the stage's steps where the backup runs (every host, or with run: first the first that passes detect); the first failure, or undefined. */
export async function runTestStage(options: TestStageOptions): Promise<string | undefined> {
  const { recipe, inventory, stage, reporter, signal } = options;
  const [component] = planRun([recipe], inventory, { ...options, operation: 'tests', only: [recipe.recipe.metadata.name] }).components;
  if (!component || component.skipReason || component.failReason) return component?.skipReason ?? component?.failReason ?? 'not planned';
  const name = component.name;

  const runHost = async (hostPlan: HostPlan): Promise<HostOutcome> => {
    const host = hostPlan.host.name;
    const started = Date.now();
    const outcome = (o: Omit<HostOutcome, 'name' | 'durationMs' | 'bytes'>): HostOutcome => ({ name: host, durationMs: Date.now() - started, bytes: 0, ...o });
    const executor = await options.executors.get(hostPlan.host).catch((e: Error) => e);
    if (executor instanceof Error) return outcome({ status: 'failed', error: executor.message, steps: [] });
    // run: first backs up the first host where detect passes: the data is seeded and checked there.
    if (component.selection === 'first' && hostPlan.detect) {
      const { command, timeoutMs, become, env } = hostPlan.detect;
      const probe = await executor.run(command, { timeoutMs, become, env, signal }).catch((e: Error) => ({ failed: true, cause: e }));
      if (probe.failed) return outcome({ status: 'skipped', note: `detect failed: ${command}`, steps: [] });
    }
    const steps = hostPlan.steps.filter((s) => s.phase === stage);
    const result = await runPhases('tests', steps, { component: name, host, reporter, signal }, async (step, stepSignal) =>
      stepRecorder(step).fromCommand(
        await executor.run(step.command, { timeoutMs: step.timeoutMs, become: step.become, env: step.env, signal: stepSignal }),
        0,
      ),
    );
    return outcome({ status: result.failure ? 'failed' : 'success', error: result.failure, steps: result.steps });
  };

  const order = component.selection === 'first' ? 'first' : component.serial ? 'serial' : 'parallel';
  const clusterOf = clusterOfHost(component.recipe.recipe);
  const run = await runComponentHosts(component.hosts, order, runHost, {
    notNeeded: (hostPlan) => ({ name: hostPlan.host.name, status: 'skipped', durationMs: 0, bytes: 0, steps: [] }),
    clusterOf: clusterOf && ((hostPlan) => clusterOf(hostPlan.host)),
  });
  if (run.status === 'success') return undefined;
  return run.error ?? `no host of the component ran the ${stage} steps`;
}
