/**
 * The run report as one self-contained HTML file (`--report-format html`): inline CSS and SVG,
 * no script, nothing fetched, so it reads the same attached to a CI job or opened from a mail.
 * It shows the status matrix (component × host: status, bytes, time), the totals, the archive,
 * the targets with their verify result, and a chart of the cluster's last backups from the catalog.
 * Every value passes through escapeMarkup: a name like `<script>` is shown, never run.
 */
import type { SummaryRow } from './events.js';
import { formatBytes, formatDuration } from './format.js';
import { escapeMarkup as esc } from './markup.js';
import type { RunReport, TargetReport } from './run-report.js';

/** One backup of the cluster as the target's catalog lists it (a bar of the chart). */
export interface HistoryPoint {
  name: string;
  /** ISO time the backup started. */
  time: string;
  bytes: number;
  status: string;
}

/** The chart's backups, oldest first, and where they were read (or why they could not be). */
export interface ReportHistory {
  target?: string;
  backups: HistoryPoint[];
  error?: string;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse} th,td{border:1px solid #cfd6e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f4f8} dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:0} dt{color:#5b6778}
dd{margin:0;word-break:break-all} .status{font-weight:600;display:block} .detail{display:block;color:#5b6778;font-size:12px}
.reason{display:block;font-size:12px;max-width:40em;white-space:pre-wrap;word-break:break-word}
.status-success{background:#e3f5e6} .status-failed{background:#fde4e2} .status-partial{background:#fff1d6}
.status-skipped,.none{background:#f1f2f4;color:#5b6778} .badge{padding:2px 8px;border-radius:4px}
svg text{font:11px system-ui,sans-serif;fill:#5b6778}
`;

const STATUS_COLOURS: Record<string, string> = { success: '#2e9e48', partial: '#e0a020', failed: '#d2322d', damaged: '#7a1f9c' };
const colour = (status: string) => STATUS_COLOURS[status] ?? '#8a94a3';

function definitionList(values: [string, string | number | undefined][]): string {
  const rows = values.filter((v): v is [string, string | number] => v[1] !== undefined && v[1] !== '');
  return `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(String(v))}</dd>`).join('')}</dl>`;
}

/** Components down, hosts across; a host that did not run a component has an empty cell. */
function matrix(rows: SummaryRow[]): string {
  if (rows.length === 0) return '<p>No component ran.</p>';
  const components = [...new Set(rows.map((r) => r.component))];
  const hosts = [...new Set(rows.map((r) => r.host))];
  const cell = (component: string, host: string) => {
    const row = rows.find((r) => r.component === component && r.host === host);
    if (!row) return '<td class="none">—</td>';
    const reason = row.error ? `<span class="reason">${esc(row.error)}</span>` : '';
    return (
      `<td class="cell status-${esc(row.status)}"><span class="status">${esc(row.status)}</span>` +
      `<span class="detail">${esc(formatBytes(row.bytes))} · ${esc(formatDuration(row.durationMs))}</span>${reason}</td>`
    );
  };
  const head = `<tr><th>component \\ host</th>${hosts.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr>`;
  const body = components.map((c) => `<tr><th scope="row">${esc(c)}</th>${hosts.map((h) => cell(c, h)).join('')}</tr>`).join('\n');
  return `<table id="matrix">\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function totals(report: RunReport): string {
  const count = (status: string) => report.components.filter((r) => r.status === status).length;
  const other = report.components.filter((r) => !['success', 'failed', 'skipped'].includes(r.status)).length;
  return definitionList([
    ['hosts succeeded', count('success')],
    ['hosts failed', count('failed') + other],
    ['hosts skipped', count('skipped')],
    ['bytes collected', formatBytes(report.components.reduce((sum, r) => sum + r.bytes, 0))],
  ]);
}

function verifyText(t: TargetReport): string {
  if (!t.verify) return 'not verified';
  return t.verify.ok ? 'ok' : `failed: ${(t.verify.problems ?? []).join('; ')}`;
}

function retentionText(t: TargetReport): string {
  if (!t.retention) return '';
  if ('error' in t.retention) return `failed: ${t.retention.error}`;
  return `kept ${t.retention.kept.length}, deleted ${t.retention.deleted.length}`;
}

function targets(list: TargetReport[]): string {
  if (list.length === 0) return '<p>No copy was stored.</p>';
  const rows = list.map((t) => {
    const stored = t.name ? `<td class="status-success">${esc(t.name)}</td>` : `<td class="status-failed">${esc(t.error ?? 'not stored')}</td>`;
    const verifyClass = t.verify ? (t.verify.ok ? 'status-success' : 'status-failed') : 'none';
    return `<tr><td>${esc(t.target)}</td>${stored}<td class="${verifyClass}">${esc(verifyText(t))}</td><td>${esc(retentionText(t))}</td></tr>`;
  });
  return `<table id="targets"><thead><tr><th>target</th><th>copy</th><th>verify</th><th>retention</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const CHART = { width: 720, height: 220, left: 64, bottom: 28, top: 12 };

/** The last backups as bars: height the archive size, colour the status, each with a tooltip. */
function chart(history: ReportHistory): string {
  const where = history.target ? `<p>From the catalog of ${esc(history.target)}.</p>` : '';
  if (history.error) return `${where}<p>The history could not be read: ${esc(history.error)}</p>`;
  if (history.backups.length === 0) return `${where}<p>The catalog holds no backup of this cluster yet.</p>`;
  const { width, height, left, bottom, top } = CHART;
  const plotHeight = height - bottom - top;
  const max = Math.max(1, ...history.backups.map((b) => b.bytes));
  const slot = (width - left) / history.backups.length;
  const barWidth = Math.max(2, Math.min(40, slot * 0.7));
  const bars = history.backups.map((b, i) => {
    const h = Math.max(2, (b.bytes / max) * plotHeight);
    const x = left + i * slot + (slot - barWidth) / 2;
    const tip = `${b.name}\n${b.time}\n${formatBytes(b.bytes)} · ${b.status}`;
    return (
      `<rect class="backup" data-status="${esc(b.status)}" x="${x.toFixed(1)}" y="${(top + plotHeight - h).toFixed(1)}" ` +
      `width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${colour(b.status)}"><title>${esc(tip)}</title></rect>`
    );
  });
  const first = history.backups[0]!.time.slice(0, 16).replace('T', ' ');
  const last = history.backups[history.backups.length - 1]!.time.slice(0, 16).replace('T', ' ');
  const legend = Object.keys(STATUS_COLOURS)
    .map(
      (s, i) =>
        `<rect x="${left + i * 90}" y="${height - 10}" width="10" height="10" fill="${colour(s)}"/><text x="${left + i * 90 + 14}" y="${height - 1}">${s}</text>`,
    )
    .join('');
  return (
    `${where}<svg id="history" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 14}" role="img" aria-label="size and status of the last ${history.backups.length} backups">` +
    `<line x1="${left}" y1="${top + plotHeight}" x2="${width}" y2="${top + plotHeight}" stroke="#cfd6e0"/>` +
    `<text x="4" y="${top + 10}">${esc(formatBytes(max))}</text><text x="4" y="${top + plotHeight}">0 B</text>` +
    bars.join('') +
    `<text x="${left}" y="${top + plotHeight + 14}">${esc(first)}</text>` +
    `<text x="${width}" y="${top + plotHeight + 14}" text-anchor="end">${esc(last)}</text>` +
    legend +
    '</svg>'
  );
}

export function renderHtml(report: RunReport, history: ReportHistory): string {
  const title = `lsbackup ${report.cluster ?? ''} ${report.status}`.replace(/\s+/g, ' ');
  const overview = definitionList([
    ['job', report.job],
    ['cluster', report.cluster],
    ['started', report.startedAt],
    ['finished', report.finishedAt],
    ['duration', report.durationMs !== undefined ? formatDuration(report.durationMs) : undefined],
    ['exit code', report.exitCode],
    ['backup id', report.backupId],
    ['archive', report.archive],
    ['archive size', report.bytes !== undefined ? formatBytes(report.bytes) : undefined],
    ['sha256', report.sha256],
    ['error', report.error],
  ]);
  const warnings = report.warnings.length > 0 ? `<h2>Warnings</h2><ul>${report.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>lsbackup report: ${esc(report.cluster ?? 'unknown cluster')} <span class="badge status-${esc(report.status)}">${esc(report.status)}</span></h1>
${overview}
<h2>Components × hosts</h2>
${matrix(report.components)}
<h2>Totals</h2>
${totals(report)}
<h2>Targets</h2>
${targets(report.targets)}
<h2>Last ${history.backups.length} backups of the cluster</h2>
${chart(history)}
${warnings}
</body>
</html>
`;
}
