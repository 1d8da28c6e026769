/** The forms a run report file takes (`--report-format`): JSON (the RunReport as is), JUnit XML for CI test views, one-file HTML for people. */
import { renderHtml, type ReportHistory } from './html-report.js';
import { renderJunit } from './junit-report.js';
import type { RunReport } from './run-report.js';

export const REPORT_FORMATS = ['json', 'junit', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** How many of the cluster's last backups the HTML chart shows unless --report-history says otherwise. */
export const DEFAULT_REPORT_HISTORY = 20;

/** The file's text; only HTML shows the history (the cluster's last backups). */
export function renderReport(format: ReportFormat, report: RunReport, history: ReportHistory = { backups: [] }): string {
  if (format === 'junit') return renderJunit(report);
  if (format === 'html') return renderHtml(report, history);
  return JSON.stringify(report, null, 2) + '\n';
}
