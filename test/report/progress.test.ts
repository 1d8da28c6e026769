/**
 * The arithmetic of live progress (engine/report/progress.ts): rate over a window, ETA, hosts
 * done/total, and the one-line form the plain reporter prints. The clock is injected and the
 * meter's interval is never waited for: snapshot() is called directly.
 */
import { describe, expect, it } from 'vitest';
import type { Reporter, RunEvent } from '../../engine/report/events.js';
import { bytesPerSecond, etaSeconds, ProgressMeter, trimSamples, type RateSample } from '../../engine/report/progress.js';
import { describeProgress } from '../../engine/report/event-lines.js';

/** A reporter that keeps what it is sent (no interval: the meter never starts its timer). */
function keeper(): Reporter & { events: RunEvent[] } {
  const events: RunEvent[] = [];
  return { events, emit: (e) => void events.push(e), close: () => undefined };
}

describe('rate and ETA', () => {
  it('bytesPerSecond is the bytes between the oldest and newest sample over their time', () => {
    expect(bytesPerSecond([])).toBe(0);
    expect(bytesPerSecond([{ at: 1000, bytes: 5 }])).toBe(0);
    expect(
      bytesPerSecond([
        { at: 1000, bytes: 0 },
        { at: 1500, bytes: 100 },
        { at: 3000, bytes: 4_000_000 },
      ]),
    ).toBe(2_000_000);
    expect(
      bytesPerSecond([
        { at: 0, bytes: 0 },
        { at: 0, bytes: 10 },
      ]),
    ).toBe(0); // no time passed
  });

  it('trimSamples keeps the window and the one sample just before it', () => {
    const samples: RateSample[] = [0, 1000, 5000, 11_000, 12_000].map((at) => ({ at, bytes: at }));
    trimSamples(samples, 12_000, 10_000);
    expect(samples.map((s) => s.at)).toEqual([1000, 5000, 11_000, 12_000]);
    trimSamples(samples, 40_000, 10_000);
    expect(samples.map((s) => s.at)).toEqual([11_000, 12_000]); // never fewer than two
  });

  it('etaSeconds rounds up the rest over the rate; unknown without a total or while nothing moves; 0 when done', () => {
    expect(etaSeconds(500, 2000, 100)).toBe(15);
    expect(etaSeconds(500, 2001, 100)).toBe(16);
    expect(etaSeconds(500, undefined, 100)).toBeUndefined();
    expect(etaSeconds(500, 2000, 0)).toBeUndefined();
    expect(etaSeconds(2000, 2000, 0)).toBe(0);
    expect(etaSeconds(2500, 2000, 10)).toBe(0);
  });
});

describe('ProgressMeter', () => {
  it('counts streamed bytes per host and in total, entries, and hosts done of the total', () => {
    let now = 0;
    const inner = keeper();
    const meter = new ProgressMeter(inner, 'backup', {
      componentHosts: new Map([
        ['pg', 2],
        ['etcd', 1],
      ]),
      now: () => now,
    });
    meter.emit({ type: 'host.start', component: 'pg', host: 'db1' });
    meter.emit({ type: 'host.start', component: 'pg', host: 'db2' });
    const db1 = meter.counter({ component: 'pg', host: 'db1' });
    const db2 = meter.counter({ component: 'pg', host: 'db2' });
    now = 1000;
    db1(3_000_000);
    db2(1_000_000);
    now = 2000;
    const during = meter.snapshot();
    expect(during).toMatchObject({
      type: 'progress',
      operation: 'backup',
      bytes: 4_000_000,
      entries: 0,
      bytesPerSecond: 2_000_000,
      hostsDone: 0,
      hostsTotal: 3,
    });
    expect(during.totalBytes).toBeUndefined();
    expect(during.etaSeconds).toBeUndefined();
    expect(during.hosts).toEqual([
      { component: 'pg', host: 'db1', bytes: 3_000_000, entries: 0, done: false },
      { component: 'pg', host: 'db2', bytes: 1_000_000, entries: 0, done: false },
    ]);

    meter.emit({ type: 'entry', component: 'pg', host: 'db1', path: 'pg/db1/dump', size: 3_000_000 });
    meter.emit({ type: 'host.end', component: 'pg', host: 'db1', status: 'success', bytes: 3_000_000, durationMs: 2000 });
    expect(meter.snapshot()).toMatchObject({ entries: 1, hostsDone: 1 });
    // A component that ended counts all its hosts done (those `run: first` left out too).
    meter.emit({ type: 'component.end', component: 'etcd', status: 'success', durationMs: 10 });
    expect(meter.snapshot()).toMatchObject({ hostsDone: 2, hostsTotal: 3 });
    // Every event reached the reporter behind the meter, in order.
    expect(inner.events.map((e) => e.type)).toEqual(['host.start', 'host.start', 'entry', 'host.end', 'component.end']);
  });

  it('a known total gives an ETA from the recent rate', () => {
    let now = 0;
    const meter = new ProgressMeter(keeper(), 'verify', { totalBytes: 10_000_000, now: () => now });
    const count = meter.counter();
    now = 2000;
    count(4_000_000);
    const p = meter.snapshot();
    expect(p).toMatchObject({ operation: 'verify', bytes: 4_000_000, totalBytes: 10_000_000, bytesPerSecond: 2_000_000, etaSeconds: 3 });
    expect(p.hosts).toBeUndefined();
    expect(p.hostsTotal).toBeUndefined();
  });

  it('sends nothing when the reporter wants no progress (--quiet)', () => {
    const inner = keeper();
    const meter = new ProgressMeter(inner, 'get', { totalBytes: 10 });
    meter.counter()(10);
    meter.stop();
    expect(inner.events).toEqual([]);
  });

  it('stop() sends the last figures once when they moved since the last event', () => {
    const inner = { ...keeper(), progressIntervalMs: 3_600_000 };
    const meter = new ProgressMeter(inner, 'get', { totalBytes: 10 });
    meter.counter()(10);
    meter.stop();
    meter.stop();
    expect(inner.events).toMatchObject([{ type: 'progress', bytes: 10, totalBytes: 10, etaSeconds: 0 }]);
  });
});

describe('the plain progress line', () => {
  it('names the operation, bytes of the total, rate, entries, hosts and ETA', () => {
    expect(
      describeProgress({
        type: 'progress',
        operation: 'backup',
        bytes: 1536 * 1024 * 1024,
        totalBytes: 2048 * 1024 * 1024,
        entries: 3,
        bytesPerSecond: 96 * 1024 * 1024,
        etaSeconds: 6,
        hostsDone: 1,
        hostsTotal: 4,
      }),
    ).toBe('backup: 1.5 GiB of 2.0 GiB streamed from the hosts, 96 MiB/s, 3 entries, hosts 1/4, ETA 6s');
    expect(describeProgress({ type: 'progress', operation: 'stage', bytes: 100, entries: 0, bytesPerSecond: 0, etaSeconds: 125 })).toBe(
      'stage: 100 B, 0 B/s, 0 entries, ETA 2m05s',
    );
  });

  it('leaves entries out where the operation moves whole objects and counts none (get, prune)', () => {
    for (const operation of ['get', 'prune'] as const) {
      expect(describeProgress({ type: 'progress', operation, bytes: 100, entries: 0, bytesPerSecond: 0 })).toBe(`${operation}: 100 B, 0 B/s`);
    }
  });
});

describe('entries counted without entry events (staging, verify, restore)', () => {
  it("a host's entry counter counts into its row and the total; an operation's into the total", () => {
    const meter = new ProgressMeter(keeper(), 'restore');
    const db1 = meter.entryCounter({ component: 'pg', host: 'db1' });
    db1();
    db1();
    meter.entryCounter({ component: 'pg', host: 'db2' })();
    expect(meter.snapshot()).toMatchObject({
      entries: 3,
      hosts: [
        { host: 'db1', entries: 2 },
        { host: 'db2', entries: 1 },
      ],
    });
    const stage = new ProgressMeter(keeper(), 'stage');
    stage.entryCounter()();
    expect(stage.snapshot()).toMatchObject({ entries: 1 });
    expect(stage.snapshot().hosts).toBeUndefined();
  });
});
