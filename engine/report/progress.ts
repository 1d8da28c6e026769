/**
 * Live progress: bytes counted as they stream (one counter add per chunk, where a host's stream
 * or a stored archive is read), rolled up per host and in total, and sent to the reporter as
 * `progress` events at the reporter's interval while something moves.
 */
import type { ProgressEvent, Reporter, RunEvent } from './events.js';

export type ProgressOperation = ProgressEvent['operation'];

/** The rate is measured over about this long: recent enough to follow a slowing stream, long enough to be steady. */
export const RATE_WINDOW_MS = 10_000;

export interface RateSample {
  /** Milliseconds (any clock, the same for all samples). */
  at: number;
  bytes: number;
}

/** Bytes per second between the oldest and the newest sample; 0 before time has passed. */
export function bytesPerSecond(samples: readonly RateSample[]): number {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last.at <= first.at) return 0;
  return Math.round(((last.bytes - first.bytes) * 1000) / (last.at - first.at));
}

/** Whole seconds left at `rate`, when the total is known and bytes move; 0 once the total is reached. */
export function etaSeconds(bytes: number, totalBytes: number | undefined, rate: number): number | undefined {
  if (totalBytes === undefined) return undefined;
  if (bytes >= totalBytes) return 0;
  if (rate <= 0) return undefined;
  return Math.ceil((totalBytes - bytes) / rate);
}

/** Keeps the samples of the last `windowMs` (and the one just before, so the window stays full). */
export function trimSamples(samples: RateSample[], now: number, windowMs = RATE_WINDOW_MS): void {
  while (samples.length > 2 && samples[1]!.at <= now - windowMs) samples.shift();
}

/** One host's row of a progress event, as the events schema defines it. */
type HostProgress = NonNullable<ProgressEvent['hosts']>[number];

/** Adds streamed bytes to one host's count (and the total). */
export type ByteCounter = (bytes: number) => void;

export interface ProgressOptions {
  /** Bytes the whole operation will move, when known (a stored archive's size). */
  totalBytes?: number;
  /**
   * How many hosts each component will run on, when the operation has hosts: hosts done/total
   * count these (a component that ended counts all of its hosts done, those `run: first` left out too).
   */
  componentHosts?: ReadonlyMap<string, number>;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * A reporter that passes every event on and watches them (host.start, entry, host.end) for the
 * per-host figures, while the byte counters it hands out count the streams.
 */
export class ProgressMeter implements Reporter {
  readonly progressIntervalMs: number | undefined;
  private readonly hosts = new Map<string, HostProgress>();
  private bytes = 0;
  private entries = 0;
  private readonly samples: RateSample[] = [];
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = '0/0/0';
  private readonly endedComponents = new Set<string>();

  constructor(
    private readonly inner: Reporter,
    private readonly operation: ProgressOperation,
    private readonly options: ProgressOptions = {},
  ) {
    this.progressIntervalMs = inner.progressIntervalMs;
    this.now = options.now ?? Date.now;
  }

  /** The counter for one host's streams, or for the operation's one stream when no host is named. */
  counter(host?: { component?: string; host: string }): ByteCounter {
    const row = host ? this.row(host.component, host.host) : undefined;
    this.start();
    return row
      ? (n) => {
          row.bytes += n;
          this.bytes += n;
        }
      : (n) => {
          this.bytes += n;
        };
  }

  /**
   * The counter of entries one host is sent (restore) or the operation reads (staging, verify:
   * no host named); a backup counts its `entry` events instead.
   */
  entryCounter(host?: { component?: string; host: string }): () => void {
    const row = host ? this.row(host.component, host.host) : undefined;
    return () => {
      if (row) row.entries++;
      this.entries++;
    };
  }

  /** Sets a host's own total (known before its stream starts), counted into the operation's total. */
  setHostTotal(host: { component?: string; host: string }, totalBytes: number): void {
    this.row(host.component, host.host).totalBytes = totalBytes;
    this.options.totalBytes = (this.options.totalBytes ?? 0) + totalBytes;
  }

  emit(event: RunEvent): void {
    switch (event.type) {
      case 'host.start':
        this.row(event.component, event.host);
        this.start();
        break;
      case 'entry':
        this.row(event.component, event.host).entries++;
        this.entries++;
        break;
      case 'host.end':
        this.row(event.component, event.host).done = true;
        break;
      case 'component.end':
        this.endedComponents.add(event.component);
        break;
      case 'run.end':
        this.stop();
        break;
    }
    this.inner.emit(event);
  }

  /** The figures as they are now. */
  snapshot(): ProgressEvent {
    const now = this.now();
    this.samples.push({ at: now, bytes: this.bytes });
    trimSamples(this.samples, now);
    const rate = bytesPerSecond(this.samples);
    const { totalBytes } = this.options;
    const eta = etaSeconds(this.bytes, totalBytes, rate);
    const rows = [...this.hosts.values()];
    const hostsTotal = this.options.componentHosts && [...this.options.componentHosts.values()].reduce((a, b) => a + b, 0);
    return {
      type: 'progress',
      operation: this.operation,
      bytes: this.bytes,
      ...(totalBytes !== undefined ? { totalBytes } : {}),
      entries: this.entries,
      bytesPerSecond: rate,
      ...(eta !== undefined ? { etaSeconds: eta } : {}),
      ...(hostsTotal !== undefined ? { hostsDone: this.hostsDone(), hostsTotal } : {}),
      ...(rows.length > 0 ? { hosts: rows.map((h) => ({ ...h })) } : {}),
    };
  }

  /** Stops the interval, sending the last figures if they moved since the last event. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.send();
  }

  close(): void {
    this.stop();
    this.inner.close();
  }

  /** The rate counts from the first host or stream; the interval runs when the reporter wants progress. */
  private start(): void {
    if (this.samples.length === 0) this.samples.push({ at: this.now(), bytes: this.bytes });
    if (this.timer || this.progressIntervalMs === undefined) return;
    this.timer = setInterval(() => this.send(), this.progressIntervalMs);
    this.timer.unref(); // progress never keeps the process alive
  }

  /** Sends the figures when something moved since the last event: a stalled run repeats nothing. */
  private send(): void {
    const state = `${this.bytes}/${this.entries}/${this.hostsDone()}`;
    if (state === this.lastSent) return;
    this.lastSent = state;
    this.inner.emit(this.snapshot());
  }

  private hostsDone(): number {
    let done = 0;
    for (const [component, hosts] of this.options.componentHosts ?? []) {
      done += this.endedComponents.has(component) ? hosts : [...this.hosts.values()].filter((h) => h.component === component && h.done).length;
    }
    return done;
  }

  private row(component: string | undefined, host: string): HostProgress {
    const key = `${component ?? ''}\0${host}`;
    let row = this.hosts.get(key);
    if (!row) {
      row = { ...(component !== undefined ? { component } : {}), host, bytes: 0, entries: 0, done: false };
      this.hosts.set(key, row);
    }
    return row;
  }
}
