/** The text exposition lsbackup writes reads back as written: labels escaped, counters carried over from a previous file. */
import { describe, expect, it } from 'vitest';
import { recordRun } from '../../engine/metrics/record.js';
import { MetricsStore } from '../../engine/metrics/store.js';
import { parseSamples } from '../../engine/metrics/text-format.js';

const row = (component: string, host: string, status: string) => ({ component, host, status, bytes: 1, durationMs: 1 });

describe('metrics text format', () => {
  it('escapes label values (quotes, backslashes, newlines) so a parser reads them back', () => {
    const store = new MetricsStore();
    recordRun(store, { cluster: 'c', job: 'j', status: 'partial', durationMs: 1500, components: [row('db', 'host "a"\\b\nc', 'failed')] });
    const hosts = parseSamples(store.render()).filter((s) => s.name === 'lsbackup_component_host_status' && s.value === 1);
    expect(hosts).toEqual([
      {
        name: 'lsbackup_component_host_status',
        labels: { cluster: 'c', backup_job: 'j', component: 'db', host: 'host "a"\\b\nc', status: 'failed' },
        value: 1,
      },
    ]);
  });

  it('a failed run keeps the last success and counts on from the previous file; the component rows are the new run only', () => {
    const first = new MetricsStore();
    recordRun(first, { cluster: 'c', job: 'j', status: 'success', finishedAt: '2026-01-01T00:00:00Z', bytes: 100, components: [row('db', 'h1', 'success')] });
    const second = new MetricsStore();
    second.load(first.render());
    recordRun(second, { cluster: 'c', job: 'j', status: 'failed', finishedAt: '2026-01-02T00:00:00Z', components: [row('web', 'h2', 'failed')] });
    const samples = parseSamples(second.render());
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('lsbackup_last_success_timestamp_seconds')).toBe(Date.parse('2026-01-01T00:00:00Z') / 1000);
    expect(value('lsbackup_last_run_timestamp_seconds')).toBe(Date.parse('2026-01-02T00:00:00Z') / 1000);
    expect(value('lsbackup_runs_total', { status: 'success' })).toBe(1);
    expect(value('lsbackup_runs_total', { status: 'failed' })).toBe(1);
    expect(value('lsbackup_last_run_status', { status: 'failed' })).toBe(1);
    expect(samples.filter((s) => s.name === 'lsbackup_component_host_status').map((s) => s.labels.host)).toEqual(['h2', 'h2', 'h2']);
  });

  it('refuses a file that is not in the text format, naming the line', () => {
    expect(() => new MetricsStore().load('# HELP x\nlsbackup_runs_total{status="a"} 1\nthis is not a sample\n')).toThrow(/line 3: not a sample/);
  });
});
