import type { Redactor } from '../secrets/types.js';
import type { Reporter, RunEvent, SummaryRow } from './events.js';
import { formatBytes, formatDuration, renderTable } from './format.js';
import { writeFullySync } from './write-fully.js';

export type ReporterKind = 'json' | 'tty' | 'plain' | 'quiet';

/**
 * Picks the reporter: --json for machines, a live view on a TTY, plain lines otherwise. The live
 * view's terminal modules (log-update and its ~15 dependencies) load only when it is chosen.
 */
export async function createReporter(kind: ReporterKind, redactor: Redactor): Promise<Reporter> {
  switch (kind) {
    case 'json':
      return new JsonLinesReporter(redactor);
    case 'tty':
      return new (await import('./live-reporter.js')).LiveReporter(redactor);
    case 'plain':
      return new PlainReporter(redactor);
    case 'quiet':
      return { emit: () => undefined, close: () => undefined };
  }
}

/**
 * One JSON object per line on stdout, every string redacted (for CI). Lines of one turn of the
 * event loop go out in one write: a collect of 10,000 files is 10,000 'entry' events, and a
 * write per line cost ~0.1 s of CPU. Writes are synchronous and complete (writeFullySync), so a
 * process.exit from anywhere loses no line and a slow reader slows the run instead.
 */
class JsonLinesReporter implements Reporter {
  private pending = '';
  private scheduled = false;
  private readonly flushNow = () => this.flush();

  constructor(private readonly redactor: Redactor) {
    process.once('exit', this.flushNow); // whatever way the process ends, nothing is lost
  }

  emit(event: RunEvent): void {
    this.pending += this.redactor.redact(JSON.stringify({ time: new Date().toISOString(), ...event })) + '\n';
    if (this.pending.length >= 64 * 1024) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  close(): void {
    this.flush();
    process.off('exit', this.flushNow);
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.pending) return;
    const text = this.pending;
    this.pending = '';
    writeFullySync(1, text);
  }
}

/** Plain lines on stderr (logs, pipes), the summary table on stdout at the end. */
class PlainReporter implements Reporter {
  constructor(private readonly redactor: Redactor) {}
  emit(event: RunEvent): void {
    const line = describe(event);
    // Jobs of the scheduler run at once: each line says whose it is.
    if (line) process.stderr.write(this.redactor.redact(event.job ? `[${event.job}] ${line}` : line) + '\n');
    if (event.type === 'run.end') process.stdout.write(this.redactor.redact(summary(event)) + '\n');
  }
  close(): void {}
}

export function describe(event: RunEvent): string | undefined {
  switch (event.type) {
    case 'run.start':
      return `lsbackup ${event.operation} ${event.backupId} of cluster '${event.cluster}': ${event.components.length} component(s), ${event.hosts} host(s)${event.target ? ` -> ${event.target}` : ''}`;
    case 'component.skip':
      return `- ${event.component}: skipped (${event.reason})`;
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
    case 'run.end':
      return `${event.status.toUpperCase()} in ${formatDuration(event.durationMs)}${event.archive ? `: ${event.archive}` : ''}`;
  }
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
      (r.error ?? '').slice(0, 80),
    ]);
  const lines: string[] = [];
  if (rows.length > 0) lines.push(renderTable(['COMPONENT', 'HOST', 'STATUS', 'BYTES', 'TIME', 'NOTE'], rows));
  const absent = idle.filter((r) => r.error?.startsWith('no hosts in inventory group'));
  const other = idle.filter((r) => !absent.includes(r));
  if (absent.length > 0) lines.push(`Not in this inventory (no hosts in their groups): ${absent.map((r) => r.component).join(', ')}`);
  if (other.length > 0) lines.push(`Not run: ${other.map((r) => `${r.component} (${r.error ?? 'skipped'})`).join(', ')}`);
  lines.push(`Result: ${event.status}${event.archive ? ` -> ${event.archive}` : ''}`);
  return lines.join('\n');
}
