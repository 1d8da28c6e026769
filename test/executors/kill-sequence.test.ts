/**
 * The one kill sequence (engine/executors/kill-sequence.ts): TERM first, KILL after the grace
 * period when the command ignores TERM. Real processes on this machine; no assertion on how
 * long anything took: the tests wait for the processes' own ends and for files they write.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startKillSequence, type StopSignal } from '../../engine/executors/kill-sequence.js';
import { LocalExecutor } from '../../engine/executors/local.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lsb-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Waits (generously) until `condition` holds; the machine running the suite is small and busy. */
async function waitFor(condition: () => boolean, deadlineMs = 60_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A shell that ignores TERM (as a stuck dump or a careless trap does), and says when it is ready. */
const ignoresTerm = (marker: string) => `trap '' TERM; touch ${marker}; while :; do sleep 1; done`;

describe('the kill sequence', () => {
  it('sends TERM, then KILL to a process that ignores TERM', async () => {
    const marker = path.join(dir, 'direct-started');
    const child = spawn('sh', ['-c', ignoresTerm(marker)], { detached: true, stdio: 'ignore' });
    const exit = once(child, 'exit');
    await waitFor(() => existsSync(marker));
    const sent: StopSignal[] = [];
    const controller = new AbortController();
    const stopping = startKillSequence(
      { signal: controller.signal },
      (signal) => {
        sent.push(signal);
        process.kill(-child.pid!, signal);
      },
      { graceMs: 200 },
    );
    controller.abort();
    const [, signal] = await exit;
    stopping.exited();
    expect(signal).toBe('SIGKILL');
    expect(sent).toEqual(['SIGTERM', 'SIGKILL']);
    expect(stopping).toMatchObject({ aborted: true, timedOut: false, sent: 'SIGKILL' });
  });

  it('stops at TERM for a process that honours it', async () => {
    const sent: StopSignal[] = [];
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const exit = once(child, 'exit');
    const stopping = startKillSequence(
      { timeoutMs: 1 },
      (signal) => {
        sent.push(signal);
        child.kill(signal);
      },
      { graceMs: 200 },
    );
    const [, signal] = await exit;
    stopping.exited();
    expect(signal).toBe('SIGTERM');
    expect(stopping).toMatchObject({ timedOut: true, sent: 'SIGTERM' });
  });

  it('sends nothing more once the command has exited (its PID may belong to another process by then)', () => {
    // Fake timers: this is about which timers are left, not about time.
    vi.useFakeTimers();
    try {
      const sent: StopSignal[] = [];
      const stopping = startKillSequence({ timeoutMs: 10 }, (s) => sent.push(s), { graceMs: 100 });
      vi.advanceTimersByTime(10);
      expect(sent).toEqual(['SIGTERM']);
      stopping.exited();
      vi.advanceTimersByTime(10_000);
      expect(sent).toEqual(['SIGTERM']);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never starts when neither the timeout passes nor the run is aborted', async () => {
    const sent: StopSignal[] = [];
    const stopping = startKillSequence({ timeoutMs: 60_000, signal: new AbortController().signal }, (s) => sent.push(s));
    stopping.exited();
    expect(stopping).toMatchObject({ timedOut: false, aborted: false, sent: undefined });
    expect(sent).toEqual([]);
  });
});

describe('LocalExecutor stops commands with it', () => {
  it('a timed-out command that ignores TERM is killed with KILL, with its whole process group', async () => {
    const marker = path.join(dir, 'local-timeout-started');
    const r = await new LocalExecutor('local').run(ignoresTerm(marker), { timeoutMs: 300 });
    expect(existsSync(marker)).toBe(true);
    expect(r).toMatchObject({ timedOut: true, failed: true, exitCode: undefined, signal: 'SIGKILL' });
  });

  it('an aborted command that honours TERM ends with TERM', async () => {
    const marker = path.join(dir, 'local-abort-started');
    const controller = new AbortController();
    const running = new LocalExecutor('local').run(`touch ${marker}; exec sleep 1000`, { signal: controller.signal });
    await waitFor(() => existsSync(marker));
    controller.abort();
    const r = await running;
    expect(r).toMatchObject({ timedOut: false, failed: true, signal: 'SIGTERM' });
    expect(r.cause?.message).toBe('aborted');
  });
});
