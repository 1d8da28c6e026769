/**
 * The words of a run's events: one log line per event and the summary table at the end, shared
 * by the plain and the live reporter (reporters.ts, live-reporter.ts).
 */
import type { ProgressEvent, RunEvent, SummaryRow } from './events.js';
import { formatBytes, formatDuration, renderTable, visibleControls } from './format.js';
import type { RunReport } from './run-report.js';

/** An event's log line; what hosts printed in it (a failed step's stderr) has its control characters shown, not sent to the terminal. */
export function describe(event: RunEvent): string | undefined {
  const line = words(event);
  return line === undefined ? undefined : visibleControls(line);
}

function words(event: RunEvent): string | undefined {
  switch (event.type) {
    case 'run.start':
      return `lsbackup ${event.operation} ${event.backupId} of cluster '${event.cluster}': ${event.components.length} component(s), ${event.hosts} host(s)${event.target ? ` -> ${event.target}` : ''}`;
    case 'component.skip':
      // As restore's plan says it: the reason may hold parentheses of its own, '(--skip)'.
      return `- ${event.component}: skipped, ${event.reason}`;
    case 'host.start':
      return `  ${event.component} @ ${event.host}: started`;
    case 'step.start':
      return `  ${event.component} @ ${event.host}: ${event.phase}: ${event.step}`;
    case 'step.end':
      return event.status === 'failed' ? `  ${event.component} @ ${event.host}: ${event.phase} step '${event.step}' FAILED: ${event.error}` : undefined;
    case 'entry':
      return undefined;
    case 'host.end':
      return `  ${event.component} @ ${event.host}: ${event.status}${event.status !== 'skipped' ? ` (${formatBytes(event.bytes)}, ${formatDuration(event.durationMs)})` : ''}${event.error ? `: ${event.error}` : ''}${event.note ? ` (${event.note})` : ''}`;
    case 'component.end':
      return `${event.component}: ${event.status}${event.version ? ` (version ${event.version})` : ''}`;
    case 'warning':
      return `warning${event.component ? ` ${event.component}` : ''}${event.host ? ` @ ${event.host}` : ''}: ${event.message}`;
    case 'archive.stored':
      return `stored ${event.name} (${formatBytes(event.bytes)}) in ${event.target}`;
    case 'progress':
      return describeProgress(event);
    case 'stage':
      if (event.status === 'start') return `== ${event.recipe}: ${event.stage}`;
      return `== ${event.recipe}: ${event.stage} ${event.status === 'success' ? 'passed' : 'FAILED'}${event.durationMs !== undefined ? ` in ${formatDuration(event.durationMs)}` : ''}${event.error ? `: ${event.error}` : ''}`;
    case 'run.end':
      return `${event.status.toUpperCase()} in ${formatDuration(event.durationMs)}${event.archive ? `: ${event.archive}` : ''}`;
  }
}

/** Operations that move whole stored objects (an archive copied, metadata sidecars read): they count no entries. */
export const countsNoEntries = (operation: ProgressEvent['operation']) => operation === 'get' || operation === 'prune';

/**
 * What a backup's bytes are: the hosts' streams as they arrive (tar of the collected files with
 * its headers and padding, command output), not the data in the summary nor the stored archive.
 */
const BACKUP_BYTES = 'streamed from the hosts';

/** One line of figures: `backup: 1.2 GiB streamed from the hosts, 96 MiB/s, 3 entries, hosts 1/4`. */
export function describeProgress(event: ProgressEvent): string {
  const figures = [
    `${formatBytes(event.bytes)}${event.totalBytes !== undefined ? ` of ${formatBytes(event.totalBytes)}` : ''}${event.operation === 'backup' ? ` ${BACKUP_BYTES}` : ''}`,
    `${formatBytes(event.bytesPerSecond)}/s`,
    ...(countsNoEntries(event.operation) ? [] : [`${event.entries} entries`]),
    ...(event.hostsTotal !== undefined ? [`hosts ${event.hostsDone ?? 0}/${event.hostsTotal}`] : []),
    ...(event.etaSeconds !== undefined ? [`ETA ${event.etaSeconds < 60 ? `${event.etaSeconds}s` : formatDuration(event.etaSeconds * 1000)}`] : []),
  ];
  return `${event.operation}: ${figures.join(', ')}`;
}

export function summary(event: Extract<RunEvent, { type: 'run.end' }>): string {
  // Components that took no part (no hosts in their group, --only/--skip) make one line, not rows.
  const idle = event.summary.filter((r) => r.host === '-' && r.status === 'skipped');
  const rows = event.summary
    .filter((r) => !idle.includes(r))
    .map((r: SummaryRow) => [
      r.component,
      r.host,
      r.status,
      r.status === 'skipped' ? '-' : formatBytes(r.bytes),
      r.status === 'skipped' ? '-' : formatDuration(r.durationMs),
      visibleControls(r.error ?? '').slice(0, 80),
    ]);
  const lines: string[] = [];
  if (rows.length > 0) lines.push(renderTable(['COMPONENT', 'HOST', 'STATUS', 'BYTES', 'TIME', 'NOTE'], rows));
  const absent = idle.filter((r) => r.error?.startsWith('no hosts in inventory group'));
  const other = idle.filter((r) => !absent.includes(r));
  if (absent.length > 0) lines.push(`Not in this inventory (no hosts in their groups): ${absent.map((r) => r.component).join(', ')}`);
  if (other.length > 0) lines.push(`Not run: ${other.map((r) => `${r.component}, ${r.error ?? 'skipped'}`).join('; ')}`);
  lines.push(`Result: ${event.status}${event.archive ? ` -> ${event.archive}` : ''}`);
  return lines.join('\n');
}

/**
 * A job's last line when what ran after its backup (verify, retention) changed its outcome. The
 * summary's `Result:` is printed when the backup ends, before them: a run that ended partial
 * (retention could not delete) or failed (a copy did not verify) said `Result: success` last.
 */
export function jobOutcomeLine(report: RunReport): string | undefined {
  const after = report.targets.flatMap((t) => [
    ...(t.verify?.ok === false ? [`the copy in ${t.target} did not verify`] : []),
    ...(t.retention && 'error' in t.retention ? [`retention in ${t.target} failed: ${t.retention.error}`] : []),
  ]);
  if (after.length === 0) return undefined;
  return `Result: ${report.status}${report.archive ? ` -> ${report.archive}` : ''} (${after.join('; ')})`;
}
