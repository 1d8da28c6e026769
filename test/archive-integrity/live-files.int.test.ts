/**
 * Files that change while a backup reads them, and what a collected tree holds that a backup
 * cannot (issue 12 items 11 and 19), through the CLI on the local host:
 * - a live log that grows while tar reads it failed the collect with a bare `exit code 1`; now
 *   it is a warning naming the file, the entry is kept and marked `changedDuringRead`, and
 *   verify reports it as a warning (exit 0);
 * - a file that shrinks while read, or goes before tar reads it: tar's notes are parsed back
 *   (real GNU tar, held mid-file by a paused pipe);
 * - a FIFO in a collected tree was dropped without a word; a collected path that is a symlink
 *   to a directory saved only the link, silently. Both are warnings naming the path.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, localCluster, type LocalCluster } from './support.js';
import { waitFor } from '../faults/support.js';
import { changedWhileRead, onlyFilesDiffered } from '../../engine/runner/tar-diagnostics.js';

let c: LocalCluster;
beforeEach(async () => {
  c = await localCluster();
});
afterEach(async () => c.cleanup());

it('a log growing during the backup is a warning naming it; the entry is kept, marked, and verify warns', async () => {
  const log = await c.write('data/logs/app.log', 'x'.repeat(32 * 1024 * 1024));
  await c.write('data/logs/other.txt', 'steady\n');
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${c.data}/logs\n`);
  // A writer that appends for as long as the backup runs: tar sees the file grow while it reads it.
  const writer = execa('sh', ['-c', `while :; do printf '%0512d\\n' 0 >> '${log}'; done`], { reject: false });
  try {
    const start = (await stat(log)).size;
    await waitFor(async () => (await stat(log)).size > start, 60_000, 'the log to grow');
    const apply = await c.apply();
    expect(apply.exitCode, cliOutput(apply)).toBe(0);
    expect(apply.stderr).toContain(`${log}: file changed as we read it`);
  } finally {
    writer.kill('SIGKILL');
    await writer;
  }
  const archive = await c.archive();
  const entries = (await c.sidecar(archive)).entries;
  const entry = entries.find((e) => e.path === `app/localhost/files${log}`)!;
  expect(entry.size).toBeGreaterThanOrEqual(32 * 1024 * 1024);
  expect(entry.changedDuringRead).toBe(true);
  expect(entries.find((e) => e.path.endsWith('/other.txt'))!.changedDuringRead).toBeUndefined();
  const verify = await c.verify(archive);
  expect(verify.exitCode, cliOutput(verify)).toBe(0);
  expect(verify.stdout).toContain(`warning: entry 'app/localhost/files${log}' changed on its host while it was read`);
}, 180_000);

it("reads tar's notes: a file that shrank (zero-padded) is named, one removed before it was read is no failure (real GNU tar, held mid-file)", async () => {
  const dir = path.join(c.dir, 'held');
  const name = path.join(dir, `a shrinks \\ and\nnewline`);
  await mkdir(dir);
  await writeFile(name, Buffer.alloc(8 * 1024 * 1024, 1));
  await writeFile(path.join(dir, 'b goes'), 'x');
  const tar = spawn('tar', ['--create', '--format=posix', '--sort=name', '--file=-', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // tar blocks writing to the pipe we do not read yet: it is inside the first file when we cut it.
  await once(tar.stdout, 'readable');
  await truncate(name, 1000);
  await rm(path.join(dir, 'b goes'));
  tar.stdout.resume();
  const [code] = (await once(tar, 'close')) as [number];
  expect(code).toBe(1);
  expect(stderr).toMatch(/File shrank by \d+ bytes; padding with zeros/);
  expect(stderr).toMatch(/b goes: File removed before we read it/);
  // The directory changed too (an entry went): tar says so, and it is marked like a file.
  expect(changedWhileRead(stderr)).toEqual([name, dir]);
  expect(onlyFilesDiffered(code, stderr)).toBe(true);
  expect(onlyFilesDiffered(2, stderr)).toBe(false);
});

it('warns about a FIFO in a collected tree and a collected path that is a symlink to a directory', async () => {
  await c.write('data/tree/file.txt', 'x\n');
  await c.write('data/real/inside.txt', 'y\n');
  await execa('mkfifo', [path.join(c.data, 'tree/pipe')]);
  await execa('ln', ['-s', path.join(c.data, 'real'), path.join(c.data, 'linked')]);
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: [${c.data}/tree, ${c.data}/linked]\n`);
  const apply = await c.apply();
  expect(apply.exitCode, cliOutput(apply)).toBe(0);
  expect(apply.stderr).toContain(`not collected: FIFO ${c.data}/tree/pipe`);
  expect(apply.stderr).toContain(`${c.data}/linked is a symbolic link to a directory: only the link is collected; collect ${c.data}/real to save its files`);
  const paths = (await c.sidecar(await c.archive())).entries.map((e) => e.path);
  expect(paths).toContain(`app/localhost/files${c.data}/tree/file.txt`);
  expect(paths).toContain(`app/localhost/files${c.data}/linked`);
});
