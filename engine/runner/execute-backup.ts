import { PassThrough, Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { ArchiveWriter } from '../archive/types.js';
import type { Executor } from '../executors/types.js';
import type { ExecutorPool } from '../executors/pool.js';
import type { Reporter } from '../report/events.js';
import { ProgressMeter } from '../report/progress.js';
import { isLsError } from '../errors.js';
import { runPhases } from './run-phases.js';
import { describeFailure, outputTails, stepRecorder, type StepRun } from './step-result.js';
import { runComponentHosts } from './component-run.js';
import { clusterOfHost } from './plan.js';
import { filesPrefix, hostPathInArchive, outputEntryPath, recipeEntryPath } from './entry-paths.js';
import { changedWhileRead, onlyFilesDiffered } from './tar-diagnostics.js';
import { chooseVariant } from '../recipes/versions.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { meaningfulTarStderr } from './collect-command.js';
import { runStreamed } from './streamed-run.js';
import { TarCollector, type CollectedPaths } from './tar-collector.js';
import type { IncrementalCollect } from './incremental.js';
import { ManifestSplitter } from './incremental-stream.js';
import { contentAddressedOutcome, contentAddressedOutputCommand } from './content-addressed-output.js';
import type { Transport } from './transport.js';
import type { ComponentOutcome, ComponentPlan, HostOutcome, HostPlan, RenderedStep, RunPlan } from './types.js';

export interface ExecuteOptions {
  archive: ArchiveWriter;
  executors: ExecutorPool;
  /** Hosts (component × host tasks) running at once. */
  concurrency: number;
  /** Aborted on Ctrl-C/SIGTERM: running commands are killed, post-steps still run. */
  signal: AbortSignal;
  reporter: Reporter;
  /** Set when collect steps send file signatures (and, against a base, only what changed). */
  incremental?: IncrementalCollect;
}

/** Runs every component of a backup plan and streams what it produces into the archive. */
export async function executeBackup(plan: RunPlan, options: ExecuteOptions): Promise<ComponentOutcome[]> {
  const limit = pLimit(options.concurrency);
  const running = plan.components.filter((c) => !c.skipReason);
  const progress = new ProgressMeter(options.reporter, 'backup', { componentHosts: new Map(running.map((c) => [c.name, c.hosts.length])) });
  try {
    return await Promise.all(plan.components.map((component) => runComponent(component, { ...options, reporter: progress, progress }, limit)));
  } finally {
    progress.stop(); // the last figures, before the archive is finished
  }
}

/** The options each host task sees: the reporter is the run's progress meter. */
type HostTaskOptions = ExecuteOptions & { progress: ProgressMeter };

type Limit = ReturnType<typeof pLimit>;

/** How a host without an optional component is reported (summary, metadata, --json). */
const NOT_INSTALLED = 'not installed';

/** What a recipe outcome records about the recipe that ran. */
function recipeRecord(loaded: LoadedRecipe): ComponentOutcome['recipe'] {
  return { name: loaded.recipe.metadata.name, version: loaded.recipe.metadata.version, digest: loaded.digest, file: loaded.file };
}

/** Picks the steps a host runs, from the recipe version that fits its component version. */
type StepsChooser = (hostIndex: number, printedVersion: string | undefined) => Promise<{ hostPlan?: HostPlan; problem?: string }>;

async function runComponent(component: ComponentPlan, options: HostTaskOptions, limit: Limit): Promise<ComponentOutcome> {
  const base = { name: component.name, recipe: recipeRecord(component.recipe) };
  if (component.skipReason) {
    options.reporter.emit({ type: 'component.skip', component: component.name, reason: component.skipReason });
    return { ...base, status: 'skipped', durationMs: 0, hosts: [], error: component.skipReason };
  }
  if (component.failReason) {
    const error = component.failReason;
    const hosts = component.hosts.map((h): HostOutcome => ({ name: h.host.name, status: 'failed', durationMs: 0, bytes: 0, error, steps: [] }));
    for (const h of hosts)
      options.reporter.emit({ type: 'host.end', component: component.name, host: h.name, status: 'failed', bytes: 0, durationMs: 0, error });
    options.reporter.emit({ type: 'component.end', component: component.name, status: 'failed', durationMs: 0 });
    return { ...base, status: 'failed', durationMs: 0, hosts, error };
  }

  let componentVersion: string | undefined;
  let chosen: LoadedRecipe | undefined;
  const chooseSteps: StepsChooser = async (hostIndex, printedVersion) => {
    const choice = chooseVariant(
      component.variants.map((v) => v.recipe),
      printedVersion,
    );
    if (!choice.recipe) return { problem: choice.problem };
    if (chosen && chosen !== choice.recipe) {
      return {
        problem: `component version ${printedVersion ?? '?'} here needs recipe ${choice.recipe.recipe.metadata.version}, another host ran ${chosen.recipe.metadata.version}: back up hosts with different versions in separate runs`,
      };
    }
    if (!chosen) {
      chosen = choice.recipe;
      // The recipe that made this backup travels with it: restore runs exactly this one.
      const bytes = Buffer.from(chosen.source, 'utf8');
      const { name, version } = chosen.recipe.metadata;
      await options.archive.add({ path: recipeEntryPath(name, version), size: bytes.length, mode: 0o600 }, Readable.from([bytes]));
    }
    return { hostPlan: component.variants.find((v) => v.recipe === choice.recipe)!.hosts[hostIndex] };
  };
  const runHost = (hostPlan: HostPlan) =>
    limit(() => runHostTask(component, hostPlan, component.hosts.indexOf(hostPlan), chooseSteps, options)).then((r) => {
      componentVersion ??= r.version;
      return r.outcome;
    });

  // run: first: the first host whose detect passes does the work; an unreachable one hands over to the next.
  const clusterOf = clusterOfHost(component.recipe.recipe);
  const order = component.selection === 'first' ? 'first' : component.serial ? 'serial' : 'parallel';
  const run = await runComponentHosts(component.hosts, order, runHost, {
    notNeeded: (hostPlan) => skippedHost(hostPlan, 'another host of the group was backed up'),
    // The inventory says the component is on these hosts: none of them doing the work is a
    // failure (a down Prometheus or etcd host must not give a green backup without it).
    noHostDidTheWork: (hosts) => noHostDidTheWork(hosts, isOptional(component)),
    // hosts.eachGroup: every group is a cluster of its own, backed up by one of its hosts.
    clusterOf: clusterOf && ((hostPlan) => clusterOf(hostPlan.host)),
  });
  const { status, hosts } = run;
  const outcome: ComponentOutcome = {
    ...base,
    ...(chosen ? { recipe: recipeRecord(chosen) } : {}),
    componentVersion,
    status,
    durationMs: run.durationMs,
    hosts,
    ...(status === 'failed' || status === 'partial' ? { error: run.error } : {}),
    ...(status === 'skipped' ? { error: hosts.map((h) => h.note).find(Boolean) ?? NOT_INSTALLED } : {}),
  };
  options.reporter.emit({ type: 'component.end', component: component.name, status, durationMs: outcome.durationMs, version: componentVersion });
  return outcome;
}

function isOptional(component: ComponentPlan): boolean {
  return component.recipe.recipe.spec.optional === true;
}

/**
 * run: first and no host passed: every host is failed with its reason, unless the component is
 * optional and no host was unreachable (then it is simply not installed).
 */
function noHostDidTheWork(hosts: HostOutcome[], optional: boolean): HostOutcome[] {
  if (optional && hosts.every((h) => h.note?.startsWith(NOT_INSTALLED))) return hosts;
  return hosts.map((h) =>
    h.status === 'skipped' ? { ...h, status: 'failed' as const, error: `no host of the group backed it up; here: ${h.note}`, note: undefined } : h,
  );
}

function skippedHost(hostPlan: HostPlan, note: string): HostOutcome {
  return { name: hostPlan.host.name, status: 'skipped', durationMs: 0, bytes: 0, note, steps: [] };
}

async function runHostTask(
  component: ComponentPlan,
  hostPlan: HostPlan,
  hostIndex: number,
  chooseSteps: StepsChooser,
  options: HostTaskOptions,
): Promise<{ outcome: HostOutcome; version?: string }> {
  const { reporter } = options;
  const hostName = hostPlan.host.name;
  const started = Date.now();
  const transport = hostPlan.transport;
  const finish = (outcome: Omit<HostOutcome, 'name' | 'durationMs'>, version?: string) => {
    const full: HostOutcome = { name: hostName, durationMs: Date.now() - started, ...outcome, ...(transport === 'zstd' ? { transport } : {}) };
    reporter.emit({
      type: 'host.end',
      component: component.name,
      host: hostName,
      status: full.status,
      bytes: full.bytes,
      durationMs: full.durationMs,
      error: full.error,
      note: full.note,
    });
    return { outcome: full, version };
  };
  if (options.signal.aborted) return finish({ status: 'failed', bytes: 0, error: 'interrupted before start', steps: [] });
  reporter.emit({ type: 'host.start', component: component.name, host: hostName });

  let executor: Executor;
  try {
    executor = await options.executors.get(hostPlan.host);
  } catch (e) {
    const error = isLsError(e) || e instanceof Error ? e.message : String(e);
    // For run: first an unreachable host is not fatal: the next host of the group may do the work.
    if (component.selection === 'first') {
      reporter.emit({ type: 'warning', component: component.name, host: hostName, message: `unreachable, trying the next host: ${error}` });
      return finish({ status: 'skipped', bytes: 0, note: `unreachable: ${error}`, steps: [] });
    }
    return finish({ status: 'failed', bytes: 0, error, steps: [] });
  }

  let version: string | undefined;
  try {
    if (hostPlan.detect) {
      const r = await executor.run(hostPlan.detect.command, {
        timeoutMs: hostPlan.detect.timeoutMs,
        become: hostPlan.detect.become,
        env: hostPlan.detect.env,
        signal: options.signal,
      });
      // A detect that could not run (sudo refused, killed by a signal) is a failure, not an
      // absent component: skipping would silently leave the component out.
      if (r.failed && !r.timedOut && (r.cause || r.signal)) {
        return finish({ status: 'failed', bytes: 0, error: `detect: ${r.cause?.message ?? describeFailure(r, r.stderr)}`, steps: [] });
      }
      if (r.timedOut) return finish({ status: 'failed', bytes: 0, error: `detect timed out: ${hostPlan.detect.command}`, steps: [] });
      if (r.failed) {
        const why = (r.stderr.trim() || r.stdout.trim()).split('\n').at(-1);
        const reason = `detect \`${hostPlan.detect.command}\` exited ${r.exitCode}${why ? `: ${why}` : ''}`;
        // An optional component may be absent; with run: first another host may be the one
        // (a standby, a node without it): only "no host passed" fails, decided by the caller.
        if (isOptional(component)) return finish({ status: 'skipped', bytes: 0, note: `${NOT_INSTALLED} (optional; ${reason})`, steps: [] });
        if (component.selection === 'first') return finish({ status: 'skipped', bytes: 0, note: `not detected (${reason})`, steps: [] });
        return finish({ status: 'failed', bytes: 0, error: `not installed, but the inventory puts it here: ${reason}`, steps: [] });
      }
    }
    if (hostPlan.version) {
      const r = await executor.run(hostPlan.version.command, {
        timeoutMs: hostPlan.version.timeoutMs,
        become: hostPlan.version.become,
        env: hostPlan.version.env,
        signal: options.signal,
      });
      if (!r.failed) version = r.stdout.trim().split('\n')[0]?.trim() || undefined;
    }
  } catch (e) {
    // The host went away between connecting and probing: nothing was changed on it yet.
    return finish({ status: 'failed', bytes: 0, error: (e as Error).message, steps: [] });
  }

  const picked = await chooseSteps(hostIndex, version);
  if (!picked.hostPlan) return finish({ status: 'failed', bytes: 0, error: picked.problem, steps: [] }, version);
  // Archive paths of the files this host's collect steps wrote: each goes in once (TarCollector).
  const collectedPaths: CollectedPaths = new Map();
  const result = await runPhases(
    'backup',
    picked.hostPlan.steps,
    { component: component.name, host: hostName, reporter, signal: options.signal },
    (step, signal) => runStep(step, executor, { component: component.name, host: hostName, collectedPaths }, transport, options, signal),
  );
  return finish({ status: result.failure ? 'failed' : 'success', bytes: result.bytes, error: result.failure, steps: result.steps }, version);
}

async function runStep(
  step: RenderedStep,
  executor: Executor,
  where: { component: string; host: string; collectedPaths: CollectedPaths },
  transport: Transport,
  options: HostTaskOptions,
  signal: AbortSignal | undefined,
): Promise<StepRun> {
  const { component, host, collectedPaths } = where;
  const { report, fromCommand } = stepRecorder(step);
  const run = { timeoutMs: step.timeoutMs, become: step.become, env: step.env, signal };
  // Streamed steps count their bytes as they arrive, not when their entry ends.
  const streamed = { ...run, countStdout: options.progress.counter({ component, host }) };

  if (step.kind === 'collect') {
    const collector = new TarCollector(
      options.archive,
      filesPrefix(component, host),
      (path, size) => options.reporter.emit({ type: 'entry', component, host, path, size }),
      collectedPaths,
    );
    const incremental = options.incremental && step.incrementalCommand !== undefined ? options.incremental : undefined;
    const splitter = incremental ? new ManifestSplitter(collector.sink) : undefined;
    const result = incremental
      ? await runStreamed(executor, step.incrementalCommand!, { ...streamed, stdin: incremental.previousManifest(component, host) }, splitter!.sink, transport)
      : await runStreamed(executor, step.command, streamed, collector.sink, transport);
    const split = await splitter?.finish();
    const collected = await collector.finish();
    if (split?.error) collected.error ??= new Error(split.error);
    const tarProblems = meaningfulTarStderr(result.stderr);
    const onlyChanged = onlyFilesDiffered(result.exitCode, result.stderr) && !result.timedOut && !result.cause;
    if ((result.failed && !onlyChanged) || collected.error) {
      return report('failed', collected.bytes, result.exitCode, describeFailure(result, tarProblems, collected.error, step.timeoutMs));
    }
    const changed = changedWhileRead(result.stderr).map((p) => hostPathInArchive(component, host, p));
    collector.markChangedDuringRead(changed);
    if (incremental) {
      const links = incremental.collected(component, host, split!, collector.stored(), collectedPaths);
      try {
        for (const link of links) await options.archive.add(link);
      } catch (e) {
        return report('failed', collected.bytes, result.exitCode, (e as Error).message);
      }
    }
    if (tarProblems) options.reporter.emit({ type: 'warning', component, host, message: tarProblems });
    for (const special of collector.skipped) {
      options.reporter.emit({ type: 'warning', component, host, message: `not collected: ${special} (a backup holds files, directories and links)` });
    }
    return report('success', collected.bytes, result.exitCode);
  }

  if (step.output !== undefined) {
    // Unknown length: the archive writer spools it; it is added only if the command succeeds.
    const body = new PassThrough();
    const path = outputEntryPath(component, host, step.output);
    let spooled: ((size: number) => void) | undefined;
    const whole = new Promise<number>((resolve) => (spooled = resolve));
    const added = options.archive.add({ path, type: 'file', mode: 0o600, mtime: new Date() }, body, { onSpooled: spooled });
    // Refused while the command ran (its spool file's disk is full): that is why the step failed.
    let refused: Error | undefined;
    added.catch((e: Error) => (refused = e));
    const discard = async (why: string) => {
      body.destroy(new Error(why));
      await added.catch(() => undefined);
    };
    // Content-addressed against a base entry: the host sends a digest first, the bytes only if they changed.
    const base = step.contentAddressed ? options.incremental?.outputBase(path) : undefined;
    const splitter = base ? new ManifestSplitter(body) : undefined;
    const command = base ? contentAddressedOutputCommand(step.command, base.sha256) : step.command;
    // The step ran its own command; the wrapper around it is how its bytes travel.
    const result = { ...(await runStreamed(executor, command, streamed, splitter?.sink ?? body, transport)), command: step.command };
    const split = await splitter?.finish();
    if (result.failed) {
      // A body the archive destroyed (its spool's disk full) failed the command at once, while
      // the archive still removes its spool file before it says why: wait for that answer.
      if (body.destroyed) await added.catch(() => undefined);
      const why = refused ? `writing ${path}: ${refused.message}` : describeFailure(result, result.stderr, undefined, step.timeoutMs);
      await discard('command failed; output discarded');
      return report('failed', 0, result.exitCode, why);
    }
    const outcome = split && base ? contentAddressedOutcome(split, splitter!.forwarded, base) : undefined;
    if (outcome?.error) {
      await discard('the output did not arrive whole');
      return report('failed', 0, result.exitCode, `${path}: ${outcome.error}`);
    }
    if (outcome?.unchanged) {
      // Only now, after the command succeeded: a reference to the bytes the base's chain holds.
      await discard('unchanged since the base: stored as a reference');
      options.incremental!.referOutput(path, base!);
      return { ...report('success', 0, result.exitCode), output: outputTails(result) };
    }
    body.end();
    // Once the output is whole in the spool the host goes on with its next step; the entry
    // waits for its turn in the archive meanwhile (other hosts' files may be ahead of it).
    let size: number;
    try {
      size = await Promise.race([whole, added.then((record) => record.size)]);
    } catch (e) {
      return report('failed', 0, result.exitCode, `writing ${path}: ${(e as Error).message}`);
    }
    const settled = added.then(
      (record) => void options.reporter.emit({ type: 'entry', component, host, path, size: record.size }),
      (e: Error) => `writing ${path}: ${e.message}`,
    );
    return { ...report('success', size, result.exitCode), settled, output: outputTails(result) };
  }

  return fromCommand(await executor.run(step.command, run), 0);
}
