/**
 * A job's retention waits up to 10 minutes for the target's lock (another run writing there).
 * That wait is said, and a stop (SIGTERM/SIGINT: the run's signal) ends it at once, as it ends
 * the backup's own --lock-wait: systemd's stop timeout must not run out into its SIGKILL. Real
 * local target; the lock is held by a run on another machine (a lock file it wrote there), which
 * this machine cannot prove gone, so it is waited for.
 */
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { applyRetention } from '../../engine/jobs/retention.js';
import { isLsError } from '../../engine/errors.js';
import { createLocalTarget } from '../../targets/local.js';
import { workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => (ws = await workspace()));
afterEach(async () => ws.cleanup());

it('a stop while retention waits for the target lock ends the wait at once; the wait is said', async () => {
  const dir = path.join(ws.dir, 'backups');
  await ws.write('backups/lsbackup-shop-20260101T000000Z.tar.gz', 'archive');
  const target = createLocalTarget(dir);
  const holder = { pid: 4242, hostname: 'other-backup-host', acquiredAt: new Date().toISOString(), command: 'run' };
  await writeFile(target.lockFile!, JSON.stringify(holder) + '\n');

  const stop = new AbortController();
  const warnings: string[] = [];
  // The operator stops the service once the run says it is waiting.
  const warn = (message: string) => (warnings.push(message), stop.abort('SIGTERM received'));
  const outcome = await applyRetention(target, { keepLast: 1 }, { cluster: 'shop', job: 'nightly' }, { signal: stop.signal, warn }).then(
    () => 'retention ran',
    (e: unknown) => e,
  );

  expect(warnings).toEqual([expect.stringMatching(/^target .*backups is locked by pid 4242 on other-backup-host .*; waiting up to 600 s$/)]);
  expect(isLsError(outcome) && outcome.code).toBe('EINTERRUPTED');
  expect((outcome as Error).message).toMatch(/^Interrupted by SIGTERM received; nothing was started: it was waiting for the lock of target /);
  expect((await readdir(dir)).sort()).toEqual(['.lsbackup.lock', 'lsbackup-shop-20260101T000000Z.tar.gz']);
}, 60_000);
