import { describe, expect, it } from 'vitest';
import { runPhases } from '../../engine/runner/run-phases.js';
import type { RenderedStep } from '../../engine/runner/types.js';
import type { RunEvent } from '../../engine/report/events.js';
import { drainMicrotasks } from '../helpers/microtasks.js';

const step = (phase: RenderedStep['phase'], name: string, extra: Partial<RenderedStep> = {}): RenderedStep => ({
  phase,
  name,
  kind: 'command',
  command: name,
  env: {},
  timeoutMs: 1000,
  onError: 'fail',
  enabled: true,
  ...extra,
});

function collector() {
  const events: RunEvent[] = [];
  return { events, reporter: { emit: (e: RunEvent) => events.push(e), close: () => undefined } };
}

describe('runPhases (the lifecycle table at work)', () => {
  const steps = [step('pre', 'stop service'), step('snapshot', 'dump'), step('collect', 'files'), step('post', 'start service'), step('post', 'cleanup')];

  it('after a failing step skips the rest but still runs every post-step', async () => {
    const ran: string[] = [];
    const { reporter } = collector();
    const r = await runPhases('backup', steps, { component: 'c', host: 'h', reporter, signal: new AbortController().signal }, async (s) => {
      ran.push(s.name);
      return {
        outcome: {
          phase: s.phase,
          name: s.name,
          status: s.name === 'dump' ? 'failed' : 'success',
          durationMs: 0,
          error: s.name === 'dump' ? 'exit code 1' : undefined,
        },
        bytes: 0,
      };
    });
    expect(ran).toEqual(['stop service', 'dump', 'start service', 'cleanup']);
    expect(r.failure).toBe("snapshot step 'dump': exit code 1");
    expect(r.steps.map((s) => s.status)).toEqual(['success', 'failed', 'skipped', 'success', 'success']);
  });

  it('treats a step that throws (connection lost) as failed and still runs post-steps', async () => {
    const ran: string[] = [];
    const { reporter } = collector();
    const r = await runPhases('backup', steps, { component: 'c', host: 'h', reporter, signal: new AbortController().signal }, async (s) => {
      ran.push(s.name);
      if (s.name === 'stop service') throw new Error('connection reset');
      return { outcome: { phase: s.phase, name: s.name, status: 'success', durationMs: 0 }, bytes: 0 };
    });
    expect(ran).toEqual(['stop service', 'start service', 'cleanup']);
    expect(r.failure).toContain('connection reset');
  });

  it("goes on with the next step while a step's output is still on its way, and is done only when it arrived", async () => {
    let deliver!: (error?: string) => void;
    const arrived = new Promise<string | undefined>((resolve) => (deliver = resolve));
    const ran: string[] = [];
    let lastStepRan!: () => void;
    const allRan = new Promise<void>((resolve) => (lastStepRan = resolve));
    const { reporter } = collector();
    const running = runPhases('backup', steps, { component: 'c', host: 'h', reporter, signal: new AbortController().signal }, async (s) => {
      ran.push(s.name);
      if (s.name === 'cleanup') lastStepRan();
      return { outcome: { phase: s.phase, name: s.name, status: 'success', durationMs: 0 }, bytes: 0, ...(s.name === 'dump' ? { settled: arrived } : {}) };
    });
    await allRan;
    expect(ran).toEqual(['stop service', 'dump', 'files', 'start service', 'cleanup']);
    let done = false;
    void running.then(() => (done = true));
    await drainMicrotasks(); // runPhases waits on promises only: whatever it could finish, it has
    expect(done).toBe(false);
    deliver('writing dump.sql: disk full');
    const r = await running;
    // What failed late fails the step and the host after the fact.
    expect(r.failure).toBe("snapshot step 'dump': writing dump.sql: disk full");
    expect(r.steps.map((s) => s.status)).toEqual(['success', 'failed', 'success', 'success', 'success']);
  });

  it('when interrupted runs only post-steps, without the interrupted signal', async () => {
    const abort = new AbortController();
    abort.abort('SIGTERM');
    const seen: [string, AbortSignal | undefined][] = [];
    const { reporter } = collector();
    const r = await runPhases('backup', steps, { component: 'c', host: 'h', reporter, signal: abort.signal }, async (s, signal) => {
      seen.push([s.name, signal]);
      return { outcome: { phase: s.phase, name: s.name, status: 'success', durationMs: 0 }, bytes: 0 };
    });
    expect(seen).toEqual([
      ['start service', undefined],
      ['cleanup', undefined],
    ]);
    expect(r.failure).toBe('interrupted');
  });

  it('continues after a failure with onError: continue, reporting it as a warning', async () => {
    const ran: string[] = [];
    const { events, reporter } = collector();
    const list = [step('snapshot', 'optional dump', { onError: 'continue' }), step('collect', 'files')];
    const r = await runPhases('backup', list, { component: 'c', host: 'h', reporter, signal: new AbortController().signal }, async (s) => {
      ran.push(s.name);
      return { outcome: { phase: s.phase, name: s.name, status: s.name === 'optional dump' ? 'failed' : 'success', durationMs: 0, error: 'x' }, bytes: 0 };
    });
    expect(ran).toEqual(['optional dump', 'files']);
    // Tolerated: the host's result stays good, the step itself is recorded as failed.
    expect(r.failure).toBeUndefined();
    expect(r.steps[0]!.status).toBe('failed');
    expect(events.some((e) => e.type === 'warning' && e.message.includes('continuing'))).toBe(true);
  });
});
