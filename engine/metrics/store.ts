import { parseSamples, renderFamilies, type Labels } from './text-format.js';

const gauge = (name: string, help: string) => ({ name, type: 'gauge' as const, help });
const counter = (name: string, help: string) => ({ name, type: 'counter' as const, help });

/** Every metric lsbackup emits. The dashboard and alert rules in deploy/monitoring/ name only these (a test compares). */
export const METRICS = {
  lastSuccess: gauge('lsbackup_last_success_timestamp_seconds', 'When the newest successful backup of the job finished (Unix time).'),
  lastRun: gauge('lsbackup_last_run_timestamp_seconds', 'When the last run of the job finished (Unix time).'),
  lastStatus: gauge('lsbackup_last_run_status', 'Outcome of the last run: 1 for its status (success, partial, failed), 0 for the others.'),
  lastDuration: gauge('lsbackup_last_run_duration_seconds', 'How long the last run took.'),
  lastBytes: gauge('lsbackup_last_run_archive_bytes', 'Stored size of the archive of the last run that kept one.'),
  successBytes: gauge('lsbackup_last_success_archive_bytes', 'Stored size of the newest successful full backup (an incremental holds only what changed).'),
  previousSuccessBytes: gauge('lsbackup_previous_success_archive_bytes', 'Stored size of the successful full backup before the newest one.'),
  runs: counter('lsbackup_runs_total', 'Runs of the job by status.'),
  hostStatus: gauge(
    'lsbackup_component_host_status',
    'Last run, per component and host: 1 for its status (success, failed, skipped; host "-" when no host ran it).',
  ),
  freeBytes: gauge('lsbackup_target_free_bytes', 'Free space in a target directory (local and NFS targets only).'),
};

export type MetricKey = keyof typeof METRICS;
const KEY_BY_NAME = new Map(Object.entries(METRICS).map(([key, m]) => [m.name, key as MetricKey]));

const labelKey = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

/** The current value of every series, by metric; rendered in the text format on demand. */
export class MetricsStore {
  private readonly series = new Map<MetricKey, Map<string, { labels: Labels; value: number }>>();

  get(key: MetricKey, labels: Labels): number | undefined {
    return this.series.get(key)?.get(labelKey(labels))?.value;
  }

  /** The labels of every series of a metric. */
  labelsOf(key: MetricKey): Labels[] {
    return [...(this.series.get(key)?.values() ?? [])].map((s) => s.labels);
  }

  set(key: MetricKey, labels: Labels, value: number): void {
    let family = this.series.get(key);
    if (!family) this.series.set(key, (family = new Map()));
    family.set(labelKey(labels), { labels, value });
  }

  add(key: MetricKey, labels: Labels, delta: number): void {
    this.set(key, labels, (this.get(key, labels) ?? 0) + delta);
  }

  /** Drops the series whose labels include all of `match` (a job's last per-host rows before the new ones). */
  deleteMatching(key: MetricKey, match: Labels): void {
    const family = this.series.get(key);
    for (const [k, s] of family ?? []) if (Object.entries(match).every(([name, v]) => s.labels[name] === v)) family!.delete(k);
  }

  /** Drops every series of a job (`backup_job`), of every cluster. */
  forgetJob(job: string): void {
    for (const key of this.series.keys()) this.deleteMatching(key, { backup_job: job });
  }

  /** Takes over the series of a previous exposition (a textfile of the last run); other metrics in it are ignored. */
  load(text: string): void {
    for (const s of parseSamples(text)) {
      const key = KEY_BY_NAME.get(s.name);
      if (key) this.set(key, s.labels, s.value);
    }
  }

  render(): string {
    return renderFamilies((Object.keys(METRICS) as MetricKey[]).map((key) => ({ ...METRICS[key], samples: [...(this.series.get(key)?.values() ?? [])] })));
  }
}
