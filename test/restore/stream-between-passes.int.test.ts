/**
 * `restore --stream` reads the archive twice: the verify pass, then the restore pass for the
 * hosts (docs/restore.md). Here the archive changes exactly between the two, through the BUILT
 * CLI on the local host: the restore's pre step blocks reading a FIFO the test holds, so the
 * test changes the stored archive while the verify pass is over and no body has been read again,
 * then lets the step go on. No byte the verify pass did not see may reach the host's command, the
 * restore must end (failed, naming the change) and the post step must still run.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, runCli, type CliResult } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const TIMEOUT_MS = 300_000;
const DB_BYTES = 4 * 1024 * 1024;

// db.bin spans several 1 MiB blocks of the archive (random bytes: gzip stores them as they are).
const RECIPE = `hosts: { group: app, run: all }
vars: { data: /nonexistent }
backup:
  snapshot: [{ name: database dump, run: "cat {{vars.data}}/db.bin", output: db.bin }]
restore:
  pre:
    - run: cat {{vars.data}}/between-passes
  apply:
    - run: cat > {{vars.data}}/restored.bin
      input: db.bin
  post:
    - run: touch {{vars.data}}/post-ran
`;

let cluster: Cluster;
let data: string;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  data = cluster.dataDir('localhost');
  await mkdir(data, { recursive: true });
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
});

/** Backs up a fresh random db.bin; returns the archive and the bytes it verified. */
async function backUp(): Promise<{ archive: string; db: Buffer }> {
  const db = randomBytes(DB_BYTES);
  await writeFile(path.join(data, 'db.bin'), db);
  return { archive: await cluster.backup(cluster.recipes), db };
}

/** `restore --stream`, running `change` once the verify pass is over and before the restore pass reads anything. */
async function restoreChangedBetweenPasses(archive: string, change: () => Promise<void>): Promise<CliResult> {
  const gate = path.join(data, 'between-passes');
  await rm(gate, { force: true });
  execFileSync('mkfifo', [gate]);
  for (const f of ['restored.bin', 'post-ran']) await rm(path.join(data, f), { force: true });
  const restore = runCli(['restore', archive, '-b', cluster.build, '--recipes', cluster.recipes, '--yes', '--stream'], {
    env: cluster.env,
    timeoutMs: 120_000,
  });
  // Opening the FIFO for writing returns once the pre step opened it for reading.
  const opened = await Promise.race([
    open(gate, 'w'),
    restore.then((r) => Promise.reject(new Error(`the restore ended before its pre step\n${cliOutput(r)}`))),
  ]);
  await change();
  await opened.close(); // the pre step reads EOF and the restore goes on
  return restore;
}

/** The bytes the host's command wrote, which must be the start of what was verified. */
async function restoredPrefixOf(db: Buffer): Promise<void> {
  const restored = await readFile(path.join(data, 'restored.bin')).catch(() => Buffer.alloc(0));
  expect(restored.length).toBeLessThan(db.length);
  expect(restored.equals(db.subarray(0, restored.length)), `the host got ${restored.length} bytes that are not the verified ones`).toBe(true);
}

describe('restore --stream: the archive changes between the verify pass and the restore pass', () => {
  it(
    'replaced by another backup of the same cluster under the same name: the host gets none of its bytes, the restore fails naming the change, post runs',
    async () => {
      const verified = await backUp();
      const other = path.join(cluster.dir, 'other.tar.gz');
      await copyFile((await backUp()).archive, other);

      const r = await restoreChangedBetweenPasses(verified.archive, () => copyFile(other, verified.archive));
      await restoredPrefixOf(verified.db);
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(r.stderr).toMatch(/changed after it was verified \((bytes \d+-\d+ differ from the verified ones|it ends after \d+ bytes|it is longer)/);
      await expect(stat(path.join(data, 'post-ran')), 'the post step ran').resolves.toBeDefined();
    },
    TIMEOUT_MS,
  );

  it(
    'truncated: the restore ends (failed, naming it) instead of waiting for bytes that will not come, post runs',
    async () => {
      const verified = await backUp();
      const r = await restoreChangedBetweenPasses(verified.archive, async () =>
        truncate(verified.archive, Math.floor((await stat(verified.archive)).size / 2)),
      );
      expect(r.stderr, 'the restore had to be stopped').not.toContain('SIGTERM received');
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(r.stderr).toMatch(/changed after it was verified \(it ends after \d+ bytes, \d+ were verified\)|reading .* again failed/);
      await restoredPrefixOf(verified.db);
      await expect(stat(path.join(data, 'post-ran')), 'the post step ran').resolves.toBeDefined();
    },
    TIMEOUT_MS,
  );
});
