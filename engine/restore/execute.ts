import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import pLimit, { type LimitFunction } from 'p-limit';
import type { ExecutorPool } from '../executors/pool.js';
import type { Executor } from '../executors/types.js';
import type { Reporter } from '../report/events.js';
import { ProgressMeter } from '../report/progress.js';
import { counted } from '../catalog/objects.js';
import { hostPhases, type HostPhases } from '../runner/run-phases.js';
import { lifecycle } from '../recipes/lifecycle.js';
import { stepRecorder, type StepRun } from '../runner/step-result.js';
import { componentRun, runComponentHosts, type ComponentRun, type ComponentStatus } from '../runner/component-run.js';
import { outputEntryPath } from '../runner/entry-paths.js';
import type { HostOutcome, RenderedStep } from '../runner/types.js';
import type { StagedBackup } from './stage.js';
import { HostWriteQueues, restoreFiles, type HostCounters } from './files-step.js';
import type { RestoreComponent, RestoreTask } from './plan.js';
import type { BodyStream, OpenBodies } from './second-pass.js';

export interface RestoreExecuteOptions {
  staged: StagedBackup;
  executors: ExecutorPool;
  concurrency: number;
  signal: AbortSignal;
  reporter: Reporter;
  /** Restore setuid/setgid bits as backed up (--keep-special-modes); else they are stripped. */
  keepSpecialModes: boolean;
  /** Stream mode: bodies from a second pass over the archive, and why the rest is refused once it changed. */
  stream?: { openBodies: OpenBodies; refused: () => string | undefined };
}

export interface RestoreComponentOutcome {
  name: string;
  status: ComponentStatus;
  /** As for a backup's components (runner/component-run.ts): 0 when it did not run. */
  durationMs: number;
  hosts: RestoredHost[];
  error?: string;
}

/**
 * Runs every planned component's restore on its mapped hosts (serial recipes one host at a time,
 * restore.together ones phase by phase on all hosts at once).
 * Components run side by side, except that one waits for those named in its restore.after.
 */
export async function executeRestore(components: RestoreComponent[], given: RestoreExecuteOptions): Promise<RestoreComponentOutcome[]> {
  const running = components.filter((c) => !c.skipReason);
  const progress = new ProgressMeter(given.reporter, 'restore', { componentHosts: new Map(running.map((c) => [c.name, c.tasks.length])) });
  const options = { ...given, reporter: progress };
  try {
    return await restoreInOrder(components, options, progress);
  } finally {
    progress.stop();
  }
}

async function restoreInOrder(components: RestoreComponent[], options: RestoreExecuteOptions, progress: ProgressMeter): Promise<RestoreComponentOutcome[]> {
  const limit = pLimit(options.concurrency);
  const writes: StepContext = {
    staged: options.staged,
    keepSpecialModes: options.keepSpecialModes,
    hostWrites: new HostWriteQueues(),
    progress,
    openBodies: options.stream?.openBodies,
  };
  const byName = new Map(components.map((c) => [c.name, c]));
  const started = new Map<string, Promise<RestoreComponentOutcome>>();
  // `chain`: the components waiting on this one, to refuse a loop instead of waiting forever.
  const start = (component: RestoreComponent, chain: string[]): Promise<RestoreComponentOutcome> => {
    const known = started.get(component.name);
    if (known) return known;
    const path = [...chain, component.name];
    const waits = component.skipReason ? [] : component.after.filter((name) => byName.has(name));
    const loop = waits.find((name) => path.includes(name));
    const before = loop ? [] : waits.map((name) => start(byName.get(name)!, path));
    const outcome = (async () => {
      if (loop) return notRun(component, `restore.after makes a loop: ${[...path, loop].join(' after ')}`, options.reporter);
      const broken = (await Promise.all(before)).filter((o) => o.status === 'failed' || o.status === 'partial');
      if (broken.length)
        return notRun(component, `not restored: it restores after ${broken.map((o) => `${o.name} (${o.status})`).join(', ')}`, options.reporter);
      if (component.notRestored) return notRun(component, `not restored: ${component.skipReason}`, options.reporter);
      const refused = component.skipReason ? undefined : options.stream?.refused();
      if (refused) return notRun(component, `not restored: ${refused}`, options.reporter);
      return restoreComponent(component, () => restoreHosts(component, limit, options, writes), options.reporter);
    })();
    started.set(component.name, outcome);
    return outcome;
  };
  return Promise.all(components.map((c) => start(c, [])));
}

function notRun(component: RestoreComponent, error: string, reporter: Reporter): RestoreComponentOutcome {
  reporter.emit({ type: 'component.end', component: component.name, status: 'failed', durationMs: 0 });
  return { name: component.name, status: 'failed', durationMs: 0, hosts: [], error };
}

async function restoreComponent(
  component: RestoreComponent,
  runHosts: () => Promise<ComponentRun<RestoredHost>>,
  reporter: Reporter,
): Promise<RestoreComponentOutcome> {
  if (component.skipReason) {
    reporter.emit({ type: 'component.skip', component: component.name, reason: component.skipReason });
    return { name: component.name, status: 'skipped', durationMs: 0, hosts: [], error: component.skipReason };
  }
  const { hosts, status, durationMs, error } = await runHosts();
  reporter.emit({ type: 'component.end', component: component.name, status, durationMs });
  return { name: component.name, status, durationMs, hosts, ...(error !== undefined ? { error } : {}) };
}

type RestoredHost = HostOutcome & { source: string };

/**
 * The component's hosts: one at a time (serial), side by side, or in step (restore.together:
 * every host ends a phase before any host begins the next, e.g. all brokers stopped before one
 * starts). Each host's phases still follow the lifecycle: post always runs.
 */
async function restoreHosts(
  component: RestoreComponent,
  limit: LimitFunction,
  options: RestoreExecuteOptions,
  writes: StepContext,
): Promise<ComponentRun<RestoredHost>> {
  const open = (task: RestoreTask) => openHost(component, task, options, writes);
  if (component.together) {
    const started = Date.now();
    const hosts = await Promise.all(component.tasks.map((task) => limit(() => open(task))));
    for (const phase of lifecycle.restore) await Promise.all(hosts.map((h) => limit(async () => h.phases?.runPhase(phase))));
    return componentRun(await Promise.all(hosts.map((h) => h.end())), started);
  }
  const whole = (task: RestoreTask) =>
    limit(async () => {
      const host = await open(task);
      for (const phase of lifecycle.restore) await host.phases?.runPhase(phase);
      return host.end();
    });
  return runComponentHosts(component.tasks, component.serial ? 'serial' : 'parallel', whole);
}

/** A host connected and ready for its phases (none when it could not be reached); end() reports it. */
interface OpenHost {
  phases?: HostPhases;
  end(): Promise<RestoredHost>;
}

async function openHost(component: RestoreComponent, task: RestoreTask, options: RestoreExecuteOptions, writes: StepContext): Promise<OpenHost> {
  const host = task.hostPlan.host.name;
  const started = Date.now();
  const done = (o: Omit<HostOutcome, 'name' | 'durationMs'>) => {
    const outcome = { name: host, source: task.sourceHost, durationMs: Date.now() - started, ...o };
    options.reporter.emit({
      type: 'host.end',
      component: component.name,
      host,
      status: outcome.status,
      bytes: outcome.bytes,
      durationMs: outcome.durationMs,
      error: outcome.error,
    });
    return outcome;
  };
  options.reporter.emit({ type: 'host.start', component: component.name, host });
  let executor: Executor;
  try {
    executor = await options.executors.get(task.hostPlan.host);
  } catch (e) {
    const error = (e as Error).message;
    return { end: async () => done({ status: 'failed', bytes: 0, error, steps: [] }) };
  }
  const phases = hostPhases(task.hostPlan.steps, { component: component.name, host, reporter: options.reporter, signal: options.signal }, (step, signal) =>
    runRestoreStep(step, executor, component.name, task.sourceHost, writes, signal, {
      bytes: writes.progress.counter({ component: component.name, host }),
      entry: writes.progress.entryCounter({ component: component.name, host }),
    }),
  );
  return {
    phases,
    end: async () => {
      const result = await phases.finish();
      return done({ status: result.failure ? 'failed' : 'success', bytes: result.bytes, error: result.failure, steps: result.steps });
    },
  };
}

/** What every restore step of the run shares. */
interface StepContext {
  staged: StagedBackup;
  keepSpecialModes: boolean;
  hostWrites: HostWriteQueues;
  /** Counts the bytes each host is sent as they go. */
  progress: ProgressMeter;
  openBodies?: OpenBodies;
}

async function runRestoreStep(
  step: RenderedStep,
  executor: Executor,
  component: string,
  sourceHost: string,
  context: StepContext,
  signal: AbortSignal | undefined,
  count: HostCounters,
): Promise<StepRun> {
  const { staged } = context;
  const { report, fromCommand } = stepRecorder(step);
  const run = { timeoutMs: step.timeoutMs, become: step.become, env: step.env, signal };

  if (step.kind === 'files') {
    const files = { component, sourceHost, hostPath: step.files!, optional: step.filesOptional ?? false, keepSpecialModes: context.keepSpecialModes };
    const result = await context.hostWrites.run(executor.hostName, () => restoreFiles(executor, staged, files, run, count, context.openBodies));
    return result.ok ? report('success', result.bytes, result.exitCode) : report('failed', 0, result.exitCode, result.error);
  }

  let stdin: Readable | undefined;
  let bytes = 0;
  let streamed: BodyStream | undefined;
  if (step.input !== undefined) {
    const entryPath = outputEntryPath(component, sourceHost, step.input);
    const staged_ = staged.entries.get(entryPath);
    // Staged, or in stream mode a verified file whose body the second pass brings.
    const usable = staged_?.file ?? (context.openBodies && staged_?.entry.type === 'file' && !staged_.incomplete);
    if (!usable && step.inputOptional) return report('skipped', 0);
    if (!usable) return report('failed', 0, undefined, `the backup has no entry '${entryPath}' for input '${step.input}'`);
    streamed = staged_!.file ? undefined : context.openBodies!([entryPath]);
    try {
      stdin = counted(streamed ? await streamed.next() : createReadStream(staged_!.file!), count.bytes);
      count.entry();
    } catch (e) {
      streamed?.close();
      return report('failed', 0, undefined, (e as Error).message);
    }
    bytes = staged_!.entry.size;
  }
  try {
    const result = await executor.run(step.command, { ...run, ...(stdin ? { stdin } : {}) });
    // A body cut short because the archive changed: the command may have taken the short input as whole.
    const cut = streamed?.failure();
    return cut ? report('failed', 0, result.exitCode, cut) : fromCommand(result, bytes);
  } finally {
    streamed?.close();
  }
}
