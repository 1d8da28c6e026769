import { statfs } from 'node:fs/promises';
import { sanitizeClusterName } from '../archive/index.js';
import type { SummaryRow } from '../report/events.js';
import type { Target } from '../../targets/types.js';
import type { MetricsStore } from './store.js';

/** What the metrics take from a finished run: a job's run report has this shape, and `apply` builds one. */
export interface RunOutcome {
  cluster?: string;
  /** The config job; `apply` runs none and is labelled `apply`. */
  job?: string;
  status: 'running' | 'success' | 'partial' | 'failed';
  /** What the stored backup is: an incremental's size is no full's, and the size pair compares fulls only. */
  kind?: 'full' | 'incremental';
  finishedAt?: string;
  durationMs?: number;
  bytes?: number;
  components: SummaryRow[];
}

const RUN_STATUSES = ['success', 'partial', 'failed'] as const;
const HOST_STATUSES = ['success', 'failed', 'skipped'] as const;

/**
 * The labels of a job's series. `backup_job`, not `job`: Prometheus sets `job` to the scrape
 * job itself. The cluster as in backup names, so the catalog's figures land on the same series.
 */
export function jobLabels(cluster: string | undefined, job: string | undefined): { cluster: string; backup_job: string } {
  return { cluster: cluster ? sanitizeClusterName(cluster) : '', backup_job: job ?? 'apply' };
}

/**
 * The cluster a job's earlier runs were recorded under, when there is one: what a run that
 * failed before it learnt its cluster (no inventory; a config that did not load) is recorded
 * under. A series of its own (cluster "") would be no failure of the series the alerts follow,
 * and would go on saying "failed" after the job recovered.
 */
function earlierCluster(store: MetricsStore, job: string): string | undefined {
  // lastSuccess too: after a scheduler restart only the catalog's successes are known.
  const clusters = new Set([...store.labelsOf('lastRun'), ...store.labelsOf('lastSuccess')].filter((l) => l.backup_job === job).map((l) => l.cluster));
  return clusters.size === 1 ? [...clusters][0] : undefined;
}

/** One finished run into the store: last status, duration, sizes, counters, component × host rows. */
export function recordRun(store: MetricsStore, outcome: RunOutcome): void {
  const cluster = outcome.cluster ?? (outcome.job === undefined ? undefined : earlierCluster(store, outcome.job));
  const labels = jobLabels(cluster, outcome.job);
  const status = outcome.status === 'running' ? 'failed' : outcome.status;
  const finished = (outcome.finishedAt ? Date.parse(outcome.finishedAt) : Date.now()) / 1000;
  store.set('lastRun', labels, finished);
  for (const s of RUN_STATUSES) store.set('lastStatus', { ...labels, status: s }, s === status ? 1 : 0);
  store.add('runs', { ...labels, status }, 1);
  if (outcome.durationMs !== undefined) store.set('lastDuration', labels, outcome.durationMs / 1000);
  if (outcome.bytes !== undefined) store.set('lastBytes', labels, outcome.bytes);
  if (status === 'success') recordSuccess(store, labels, finished, outcome.kind === 'incremental' ? undefined : outcome.bytes);
  store.deleteMatching('hostStatus', labels);
  for (const row of outcome.components) {
    for (const s of HOST_STATUSES) store.set('hostStatus', { ...labels, component: row.component, host: row.host, status: s }, s === row.status ? 1 : 0);
  }
}

/**
 * A successful backup: its time, and for a full its size with the full's size before it, for the
 * "size dropped" alert. An incremental (`fullBytes` undefined) holds only what changed since its
 * base: compared with a full, every incremental looked like a backup that had lost most of its data.
 */
export function recordSuccess(store: MetricsStore, labels: { cluster: string; backup_job: string }, finishedSec: number, fullBytes: number | undefined): void {
  const newest = store.get('lastSuccess', labels);
  if (newest !== undefined && newest >= finishedSec) return;
  store.set('lastSuccess', labels, finishedSec);
  if (fullBytes === undefined) return;
  const before = store.get('successBytes', labels);
  if (before !== undefined) store.set('previousSuccessBytes', labels, before);
  store.set('successBytes', labels, fullBytes);
}

/** Free space of the targets that are directories on this machine; a remote store's is not known. */
export async function recordFreeSpace(store: MetricsStore, targets: Target[]): Promise<void> {
  for (const target of targets) {
    if (!target.directory) continue;
    const fs = await statfs(target.directory).catch(() => undefined);
    if (fs) store.set('freeBytes', { target: target.uri }, fs.bavail * fs.bsize);
  }
}
