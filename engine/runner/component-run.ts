/**
 * Running one component on its hosts and rolling their outcomes up into the component's: the
 * one rule for backup (execute-backup.ts) and restore (restore/execute.ts), so a status or a
 * duration means the same in both summaries, metadata and --json.
 */
import type { HostStatus } from './types.js';

export type ComponentStatus = 'success' | 'partial' | 'failed' | 'skipped';

/**
 * How a component's hosts take their turns: all at once (bounded by the run's concurrency),
 * one after another (a recipe's `serial`), or one after another until one does the work
 * (`run: first`; the rest are not needed).
 */
export type HostOrder = 'parallel' | 'serial' | 'first';

export interface ComponentRun<O> {
  /** One outcome per task, in the tasks' order. */
  hosts: O[];
  status: ComponentStatus;
  /**
   * Wall-clock time from the component's start to its last host's end: serial hosts add up,
   * parallel ones overlap, and time a host waited for the run's concurrency limit counts (it is
   * time the component took). A component that does not run takes 0.
   */
  durationMs: number;
  /** The first host error, when the component failed or partly failed. */
  error?: string;
}

export interface HostsRunOptions<T, O> {
  /** `first` (required there): the outcome of a host left out because an earlier one did the work. */
  notNeeded?: (task: T) => O;
  /** `first`: what the outcomes become when no host did the work (every host was skipped). */
  noHostDidTheWork?: (hosts: O[]) => O[];
  /**
   * `first`: the cluster a task belongs to (a recipe's hosts.eachGroup: its group). Each cluster
   * is taken through `first` on its own, side by side: one host does the work in each.
   */
  clusterOf?: (task: T) => string;
}

/** Runs `runHost` for each task in `order`, then rolls the outcomes up. */
export async function runComponentHosts<T, O extends { status: HostStatus; error?: string }>(
  tasks: readonly T[],
  order: HostOrder,
  runHost: (task: T) => Promise<O>,
  options: HostsRunOptions<T, O> = {},
): Promise<ComponentRun<O>> {
  const started = Date.now();
  const { clusterOf } = options;
  if (order === 'first' && clusterOf) {
    const clusters = [...new Set(tasks.map(clusterOf))].map((key) => tasks.filter((t) => clusterOf(t) === key));
    const runs = await Promise.all(clusters.map((members) => runComponentHosts(members, 'first', runHost, { ...options, clusterOf: undefined })));
    const outcomes = new Map<T, O>(clusters.flatMap((members, i) => members.map((t, j) => [t, runs[i]!.hosts[j]!] as const)));
    return componentRun(
      tasks.map((t) => outcomes.get(t)!),
      started,
    );
  }
  let hosts: O[];
  if (order === 'parallel') {
    hosts = await Promise.all(tasks.map((task) => runHost(task)));
  } else {
    hosts = [];
    let done = false;
    for (const task of tasks) {
      if (done) {
        hosts.push(options.notNeeded!(task));
        continue;
      }
      const outcome = await runHost(task);
      hosts.push(outcome);
      done = order === 'first' && outcome.status !== 'skipped';
    }
    if (order === 'first' && !done && options.noHostDidTheWork) hosts = options.noHostDidTheWork(hosts);
  }
  return componentRun(hosts, started);
}

/**
 * The component's run from its hosts' outcomes, `started` being when the component began: for
 * host orders runComponentHosts does not know (a restore's hosts kept in step, phase by phase).
 */
export function componentRun<O extends { status: HostStatus; error?: string }>(hosts: O[], started: number): ComponentRun<O> {
  const status = rollUpStatus(hosts);
  const error = status === 'failed' || status === 'partial' ? hosts.find((h) => h.error)?.error : undefined;
  return { hosts, status, durationMs: Date.now() - started, ...(error !== undefined ? { error } : {}) };
}

/**
 * The component's status from its hosts': success when some host succeeded and none failed;
 * partial when some succeeded and some failed; failed when some failed and none succeeded;
 * skipped when none did either (every host skipped: not installed, not needed; or no hosts).
 */
export function rollUpStatus(hosts: readonly { status: HostStatus }[]): ComponentStatus {
  const ok = hosts.some((h) => h.status === 'success');
  const failed = hosts.some((h) => h.status === 'failed');
  if (!failed) return ok ? 'success' : 'skipped';
  return ok ? 'partial' : 'failed';
}

/**
 * A whole run's status from its components' (backup and restore alike): success when every
 * component that ran succeeded; failed when none ran or none produced anything usable; partial
 * otherwise — a component that is itself partial makes the run partial, not failed.
 */
export function runStatus(components: readonly { status: ComponentStatus }[]): 'success' | 'partial' | 'failed' {
  const ran = components.filter((c) => c.status !== 'skipped');
  if (ran.length === 0) return 'failed';
  if (ran.every((c) => c.status === 'success')) return 'success';
  if (ran.some((c) => c.status === 'success' || c.status === 'partial')) return 'partial';
  return 'failed';
}
