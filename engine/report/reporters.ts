import type { Redactor } from '../secrets/types.js';
import type { Reporter, RunEvent } from './events.js';
import { describe, summary } from './event-lines.js';
import { writeFullySync } from './write-fully.js';
import { jsonLine } from './json-lines.js';

export type ReporterKind = 'json' | 'tty' | 'plain' | 'quiet';

/** How often each reporter shows progress by default: a machine every second, a log every 5 s. */
export const PROGRESS_INTERVAL_MS: Record<Exclude<ReporterKind, 'quiet'>, number> = { json: 1000, tty: 500, plain: 5000 };

/**
 * Picks the reporter: --json for machines, a live view on a TTY, plain lines otherwise. The live
 * view's terminal modules (log-update and its ~15 dependencies) load only when it is chosen.
 */
export async function createReporter(kind: ReporterKind, redactor: Redactor, progressIntervalMs?: number): Promise<Reporter> {
  const every = (k: Exclude<ReporterKind, 'quiet'>) => progressIntervalMs ?? PROGRESS_INTERVAL_MS[k];
  switch (kind) {
    case 'json':
      return new JsonLinesReporter(redactor, every(kind));
    case 'tty':
      return new (await import('./live-reporter.js')).LiveReporter(redactor, every(kind));
    case 'plain':
      return new PlainReporter(redactor, every(kind));
    case 'quiet':
      return { emit: () => undefined, close: () => undefined };
  }
}

/**
 * One JSON object per line on stdout, every string redacted (for CI): the contract of json-lines.ts. Lines of one turn of the
 * event loop go out in one write: a collect of 10,000 files is 10,000 'entry' events, and a
 * write per line cost ~0.1 s of CPU. Writes are synchronous and complete (writeFullySync), so a
 * process.exit from anywhere loses no line and a slow reader slows the run instead.
 */
class JsonLinesReporter implements Reporter {
  private pending = '';
  private scheduled = false;
  private readonly flushNow = () => this.flush();

  constructor(
    private readonly redactor: Redactor,
    readonly progressIntervalMs: number,
  ) {
    process.once('exit', this.flushNow); // whatever way the process ends, nothing is lost
  }

  emit(event: RunEvent): void {
    this.pending += jsonLine(event, this.redactor);
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
  constructor(
    private readonly redactor: Redactor,
    readonly progressIntervalMs: number,
  ) {}
  emit(event: RunEvent): void {
    const line = describe(event);
    // Jobs of the scheduler run at once: each line says whose it is.
    if (line) process.stderr.write(this.redactor.redact(event.job ? `[${event.job}] ${line}` : line) + '\n');
    if (event.type === 'run.end') process.stdout.write(this.redactor.redact(summary(event)) + '\n');
  }
  close(): void {}
}
