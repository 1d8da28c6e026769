/**
 * A run killed with SIGKILL cannot clean up: its private temp directory (restore staging, the
 * spool of a remote target) holds plaintext backup data. It is created 0700 with its owner
 * recorded, and the next run removes it once that owner is provably gone. Built CLI, a real
 * SIGKILL, TMPDIR pointed at the test's own directory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, runCli, spawnCli, workspace } from '../helpers/cli.js';
import { createOwnedTempDir } from '../../engine/lock/index.js';
import { waitFor } from './support.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let tmp: string;

beforeEach(async () => {
  ws = await workspace('lsb-killed-');
  tmp = path.join(ws.dir, 'tmp');
  await mkdir(tmp);
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => ws.cleanup());

const restoreDirs = async () => (await readdir(tmp)).filter((n) => n.startsWith('lsbackup-restore-'));

describe('temp directories of a killed run', () => {
  it("are private, survive the SIGKILL, and the next run removes them (not a live run's)", async () => {
    const running = path.join(ws.dir, 'restore-running');
    await ws.write(
      'recipes/app.yaml',
      recipeYaml(
        'app',
        `hosts: { group: app, run: all }
backup:
  snapshot:
    - run: echo secret-data
      output: dump.txt
restore:
  apply:
    # Holds the restore (its staging directory in place) until the test removes the file.
    - run: touch ${running}; while [ -e ${running} ]; do sleep 0.1; done
`,
      ),
    );
    const env = { TMPDIR: tmp };
    const common = ['-b', path.join(ws.dir, 'build')];
    const backup = await runCli(['apply', path.join(ws.dir, 'recipes'), ...common, '-t', path.join(ws.dir, 'backups')], { env });
    expect(backup.exitCode, backup.stderr).toBe(0);
    const [archive] = (await readdir(path.join(ws.dir, 'backups'))).filter((n) => n.endsWith('.tar.gz'));

    // Unsigned: restore runs the installed recipe of the component, here the test's own.
    const restore = spawnCli(['restore', path.join(ws.dir, 'backups', archive!), ...common, '--yes', '--recipes', path.join(ws.dir, 'recipes')], { env });
    try {
      await waitFor(() => existsSync(running), 120_000, 'the restore step to run');
      const [left] = await restoreDirs();
      expect(left).toBeDefined();
      expect((await stat(path.join(tmp, left!))).mode & 0o777).toBe(0o700);
      restore.kill('SIGKILL');
      await restore;
    } finally {
      restore.kill('SIGKILL');
      await rm(running, { force: true }); // ends the orphaned step
    }
    expect(await restoreDirs()).toHaveLength(1); // nobody cleaned up after the kill

    // A directory whose owner is alive (this test process) must survive the sweep.
    const live = await createOwnedTempDir(tmp, 'lsbackup-spool-');
    const next = await runCli(['apply', path.join(ws.dir, 'recipes'), ...common, '-t', path.join(ws.dir, 'backups')], { env });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(await restoreDirs()).toEqual([]);
    expect(next.stdout + next.stderr).toContain('removed 1 temp directory left by a killed run');
    expect(existsSync(live)).toBe(true);
  });
});
