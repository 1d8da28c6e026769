import { createLogUpdate } from 'log-update';
import type { Redactor } from '../secrets/types.js';
import type { ProgressEvent, Reporter, RunEvent } from './events.js';
import { formatBytes, formatDuration } from './format.js';
import { describe, describeProgress, summary } from './event-lines.js';

/**
 * A live block of the hosts at work (component, host, current step, bytes streamed so far) and a
 * total line (engine/report/progress.ts) above the log lines.
 */
export class LiveReporter implements Reporter {
  private readonly active = new Map<string, { step: string; bytes: number; entries: number; since: number }>();
  private total: ProgressEvent | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly update = createLogUpdate(process.stderr);

  constructor(
    private readonly redactor: Redactor,
    readonly progressIntervalMs: number,
  ) {}

  emit(event: RunEvent): void {
    const key = 'host' in event && 'component' in event ? `${event.component} @ ${event.host}` : undefined;
    switch (event.type) {
      case 'host.start':
        this.active.set(key!, { step: 'connecting', bytes: 0, entries: 0, since: Date.now() });
        break;
      case 'step.start':
        if (this.active.has(key!)) this.active.get(key!)!.step = `${event.phase}: ${event.step}`;
        break;
      case 'progress':
        this.total = event;
        for (const h of event.hosts ?? []) {
          const row = this.active.get(`${h.component} @ ${h.host}`);
          if (row) Object.assign(row, { bytes: h.bytes, entries: h.entries });
        }
        break;
      case 'host.end':
        this.active.delete(key!);
        break;
    }
    const quiet = event.type === 'step.start' || event.type === 'entry' || event.type === 'host.start' || event.type === 'progress';
    const line = quiet ? undefined : describe(event);
    if (line) {
      this.update.clear();
      process.stderr.write(this.redactor.redact(line) + '\n');
    }
    if (event.type === 'run.end') {
      this.close();
      process.stdout.write(this.redactor.redact(summary(event)) + '\n');
      return;
    }
    this.timer ??= setInterval(() => this.render(), 200);
    this.render();
  }

  private render(): void {
    const rows = [...this.active.entries()].map(
      ([k, v]) =>
        `  ${k}  ${formatBytes(v.bytes).padStart(9)}  ${String(v.entries).padStart(6)} entries  ${formatDuration(Date.now() - v.since).padStart(6)}  ${v.step}`,
    );
    const cols = process.stderr.columns ?? 120;
    const shown = rows.slice(0, 20);
    if (rows.length > 20) shown.push(`  … and ${rows.length - 20} more hosts at work`);
    if (this.total) shown.push(`  ${describeProgress(this.total)}`);
    shown.forEach((r, i) => (shown[i] = r.slice(0, cols - 1)));
    this.update(this.redactor.redact(shown.join('\n')));
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.update.clear();
    this.update.done();
  }
}
