/**
 * The process guard (engine/app/process-guard.ts) in a real Node process of its own, started as
 * the CLI starts (Node's default --unhandled-rejections=throw): a promise that rejects with no
 * handler in the middle of a run must not kill the process. It stops the run through the same
 * signal Ctrl-C uses (so post-steps run) and marks the process failed. No lsbackup command has a
 * known stray rejection left to trigger it (the S3 one is fixed: test/faults/s3-faults.int.test.ts),
 * so this script makes one itself.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';

const dist = path.join(repoRoot, 'dist/engine/app');

describe('process guard', () => {
  it('turns an unhandled rejection into an interrupted, failed run instead of a crash', async () => {
    const script = `
      const { installProcessGuard, processFaulted } = await import(${JSON.stringify(path.join(dist, 'process-guard.js'))});
      const { interruptSignal } = await import(${JSON.stringify(path.join(dist, 'interrupt.js'))});
      const { createRedactor } = await import(${JSON.stringify(path.join(repoRoot, 'dist/engine/secrets/redactor.js'))});
      installProcessGuard(createRedactor());
      const run = interruptSignal();
      const stopped = new Promise((resolve) => run.signal.addEventListener('abort', () => resolve(run.signal.reason)));
      void Promise.reject(new Error('stray rejection from a cleanup nobody awaited'));
      const reason = await stopped;
      // The "post-step" of this run: it still gets to run after the rejection.
      console.log(JSON.stringify({ reason, faulted: processFaulted(), postStepRan: true }));
      run.dispose();
    `;
    const r = await execa('node', ['--input-type=module', '-e', script], { reject: false, cwd: repoRoot });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout))).toEqual({ reason: 'an unexpected error', faulted: true, postStepRan: true });
    expect(String(r.stderr)).toMatch(/unexpected error \(please report\); stopping the run:\nError: stray rejection from a cleanup nobody awaited\n\s+at /);
  }, 60_000);
});
