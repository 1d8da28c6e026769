/**
 * deploy/monitoring/ names only metrics lsbackup emits: every metric name in the Grafana
 * dashboard's queries and in the alert rules is one of engine/metrics/store.ts METRICS.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { METRICS } from '../../engine/metrics/store.js';
import { repoRoot } from '../helpers/cli.js';

const emitted = new Set<string>(Object.values(METRICS).map((m) => m.name));
/** The lsbackup_* identifiers of a PromQL expression (label values in quotes left out). */
const metricNames = (expr: string) => [...expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(/\blsbackup_[a-zA-Z0-9_:]*/g)].map((m) => m[0]);

function dashboardExprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => dashboardExprs(n, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'expr' || key === 'definition') && typeof value === 'string') out.push(value);
      else if (key === 'query' && typeof value === 'string') out.push(value);
      else dashboardExprs(value, out);
    }
  }
  return out;
}

describe('deploy/monitoring', () => {
  it("the dashboard's queries name only metrics lsbackup emits, and show each job's last success, status and size", async () => {
    const dashboard = JSON.parse(await readFile(path.join(repoRoot, 'deploy/monitoring/lsbackup-dashboard.json'), 'utf8'));
    const exprs = dashboardExprs(dashboard.panels).concat(dashboardExprs(dashboard.templating));
    const named = exprs.flatMap(metricNames);
    expect(named.filter((n) => !emitted.has(n))).toEqual([]);
    for (const needed of [
      'lsbackup_last_success_timestamp_seconds',
      'lsbackup_last_run_status',
      'lsbackup_last_run_archive_bytes',
      'lsbackup_component_host_status',
    ]) {
      expect(named).toContain(needed);
    }
  });

  it('the alert rules name only metrics lsbackup emits', async () => {
    const rules = parseYaml(await readFile(path.join(repoRoot, 'deploy/monitoring/lsbackup.rules.yml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const exprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(4);
    expect(exprs.flatMap(metricNames).filter((n) => !emitted.has(n))).toEqual([]);
  });
});
