/**
 * Runs sharing one TMPDIR clean up each other's dead temp directories (engine/lock/owned-temp-dir.ts).
 * A directory whose owner record cannot be read is left alone and never stops the run: before,
 * a record half-written by a run starting at that moment made the other run fail with
 * "unexpected error: SyntaxError: Unexpected end of JSON input".
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createOwnedTempDir, removeStaleTempDirs } from '../../engine/lock/index.js';

let parent: string;
beforeEach(async () => {
  parent = await mkdtemp(path.join(os.tmpdir(), 'lsb-owned-'));
});
afterEach(async () => rm(parent, { recursive: true, force: true }));

it('leaves a directory whose owner record is half-written or not JSON, and goes on', async () => {
  for (const [name, text] of [
    ['lsbackup-restore-half', '{"pid": 12'],
    ['lsbackup-spool-garbage', 'not json'],
  ]) {
    await mkdir(path.join(parent, name));
    await writeFile(path.join(parent, name, '.lsbackup-owner'), text);
  }
  await expect(removeStaleTempDirs([parent])).resolves.toEqual([]);
  expect((await readdir(parent)).sort()).toEqual(['lsbackup-restore-half', 'lsbackup-spool-garbage']);
});

it('removes a directory whose owner is gone and keeps one of a live process', async () => {
  const live = await createOwnedTempDir(parent, 'lsbackup-restore-');
  const dead = path.join(parent, 'lsbackup-spool-dead');
  await mkdir(dead);
  // pid 2^22 + 1 is above Linux's pid_max limit: no such process can exist.
  await writeFile(
    path.join(dead, '.lsbackup-owner'),
    JSON.stringify({ pid: 4194305, hostname: os.hostname(), acquiredAt: new Date().toISOString(), command: 'restore' }),
  );
  expect(await removeStaleTempDirs([parent])).toEqual([dead]);
  expect(await readdir(parent)).toEqual([path.basename(live)]);
  expect(await readdir(live)).toEqual(['.lsbackup-owner']);
});
