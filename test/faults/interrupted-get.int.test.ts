/**
 * `get` stopped by Ctrl-C or SIGTERM while it downloads: its hidden temp file beside the
 * destination (a partial archive, decrypted with --identity) is removed, since no later run
 * looks there (was: left behind forever).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { spawnCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let target: string;
const NAME = 'lsbackup-big-20260101T000000Z.tar.gz';

beforeAll(async () => {
  ws = await workspace('lsb-interrupted-get-');
  target = path.join(ws.dir, 'backups');
  await mkdir(target);
  // Large enough that the download is still going when the signal arrives (get reads no metadata).
  const file = await open(path.join(target, NAME), 'w');
  for (let i = 0; i < 256; i++) await file.write(randomBytes(1024 * 1024));
  await file.close();
});
afterAll(async () => ws?.cleanup());

describe('get interrupted', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('by %s: exit 1, nothing left in the destination directory', async (signal) => {
    const dest = path.join(ws.dir, `got-${signal}`);
    await mkdir(dest);
    const child = spawnCli(['get', NAME, dest, '-t', target], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
    // Signalled as soon as its temp file appears: mid-download.
    const watcher = watch(dest, (_event, file) => {
      if (file?.startsWith('.lsbackup-tmp-')) {
        watcher.close();
        child.kill(signal);
      }
    });
    const r = await child;
    watcher.close();
    expect(r.stderr).toContain(`${signal} received: stopping, removing the partial download`);
    expect(r.stderr).toContain(`Interrupted by ${signal}; the partial download was removed.`);
    expect(r.exitCode).toBe(1);
    expect(await readdir(dest)).toEqual([]);
  });
});
