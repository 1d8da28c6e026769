/**
 * The run report as JUnit XML (`--report-format junit`), the shape GitLab's and Jenkins' test
 * views read: one <testsuite> per component, one <testcase> per component × host (classname
 * the component, name the host), a failed host as <failure> with its reason, a skipped one as
 * <skipped>, times in seconds. A run that failed as a whole (a bad config, no target stored the
 * copy) adds the suite "lsbackup" with the failed test case "run", so CI shows why.
 */
import type { SummaryRow } from './events.js';
import { escapeMarkup } from './markup.js';
import type { RunReport } from './run-report.js';

const seconds = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(3);

const attributes = (values: Record<string, string | number>) =>
  Object.entries(values)
    .map(([k, v]) => ` ${k}="${escapeMarkup(String(v))}"`)
    .join('');

/** A row's outcome as a JUnit test case body. */
function testcase(row: SummaryRow): string {
  const open = `    <testcase${attributes({ classname: row.component, name: row.host, time: seconds(row.durationMs) })}`;
  const reason = row.error ?? row.status;
  if (row.status === 'success') return `${open}/>`;
  if (row.status === 'skipped') return `${open}>\n      <skipped${attributes({ message: reason })}/>\n    </testcase>`;
  return `${open}>\n      <failure${attributes({ message: reason, type: row.status })}>${escapeMarkup(reason)}</failure>\n    </testcase>`;
}

/** The counts both <testsuites> and <testsuite> carry; a host that neither succeeded nor was skipped failed. */
const counts = (rows: SummaryRow[]) => ({
  tests: rows.length,
  failures: rows.filter((r) => r.status !== 'success' && r.status !== 'skipped').length,
  errors: 0,
  skipped: rows.filter((r) => r.status === 'skipped').length,
});

function suite(name: string, rows: SummaryRow[], report: RunReport, properties: string): string {
  const time = seconds(rows.reduce((sum, r) => sum + r.durationMs, 0));
  return [
    `  <testsuite${attributes({ name, ...counts(rows), time, timestamp: report.startedAt.replace(/Z$/, '') })}>`,
    properties,
    ...rows.map(testcase),
    '  </testsuite>',
  ].join('\n');
}

export function renderJunit(report: RunReport): string {
  const properties = [
    '    <properties>',
    ...Object.entries({ cluster: report.cluster, job: report.job, backupId: report.backupId, archive: report.archive, status: report.status })
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([name, value]) => `      <property${attributes({ name, value })}/>`),
    '    </properties>',
  ].join('\n');
  const byComponent = new Map<string, SummaryRow[]>();
  for (const row of report.components) byComponent.set(row.component, [...(byComponent.get(row.component) ?? []), row]);
  if (report.error) {
    const run: SummaryRow = { component: 'lsbackup', host: 'run', status: 'failed', bytes: 0, durationMs: report.durationMs ?? 0, error: report.error };
    byComponent.set('lsbackup', [...(byComponent.get('lsbackup') ?? []), run]);
  }
  const rows = [...byComponent.values()].flat();
  const totals = { name: `lsbackup ${report.cluster ?? ''}`.trim(), ...counts(rows), time: seconds(report.durationMs) };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes(totals)}>`,
    ...[...byComponent].map(([name, suiteRows]) => suite(name, suiteRows, report, properties)),
    '</testsuites>',
    '',
  ].join('\n');
}
