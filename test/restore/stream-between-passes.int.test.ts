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
import { copyFile, mkdir, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, runCli, succeeded, type CliResult } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const TIMEOUT_MS = 300_000;
const DB_BYTES = 4 * 1024 * 1024;

// db.bin spans several 1 MiB blocks of the archive (random bytes: gzip stores them as they are).
const RECIPE = `hosts: { group: app, run: all }
vars: { data: /nonexistent }
backup:
  snapshot: [{ name: database dump, run: "cat {{vars.data}}/db.bin", output: db.bin, contentAddressed: true }]
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
  await mkdir(cluster.target, { recursive: true });
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
});

/** Backs up a fresh random db.bin (`extra`: apply's options); returns the archive and the bytes it verified. */
async function backUp(extra: string[] = []): Promise<{ archive: string; db: Buffer }> {
  const db = randomBytes(DB_BYTES);
  await writeFile(path.join(data, 'db.bin'), db);
  // Listed by name: the cluster helper's archive finder leaves encrypted ones out.
  const before = new Set(await readdir(cluster.target));
  succeeded(await cluster.apply(cluster.recipes, extra));
  const added = (await readdir(cluster.target)).filter((n) => !before.has(n) && /\.tar\.gz(\.age)?$/.test(n));
  expect(added).toHaveLength(1);
  return { archive: path.join(cluster.target, added[0]!), db };
}

/** `restore --stream`, running `change` once the verify pass is over and before the restore pass reads anything. */
async function restoreChangedBetweenPasses(archive: string, change: () => Promise<void>, extra: string[] = []): Promise<CliResult> {
  const gate = path.join(data, 'between-passes');
  await rm(gate, { force: true });
  execFileSync('mkfifo', [gate]);
  for (const f of ['restored.bin', 'post-ran']) await rm(path.join(data, f), { force: true });
  const restore = runCli(['restore', archive, '-b', cluster.build, '--recipes', cluster.recipes, '--yes', '--stream', ...extra], {
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

/** The restore failed naming the change, the host got only verified bytes, and post ran. */
async function refusedAfterTheChange(r: CliResult, verified: Buffer): Promise<void> {
  await restoredPrefixOf(verified);
  expect(r.exitCode, cliOutput(r)).toBe(1);
  expect(r.stderr).toMatch(/changed after it was verified \((bytes \d+-\d+ differ from the verified ones|it ends after \d+ bytes|it is longer)/);
  await expect(stat(path.join(data, 'post-ran')), 'the post step ran').resolves.toBeDefined();
}

describe('restore --stream: the archive changes between the verify pass and the restore pass', () => {
  it(
    'replaced by another backup of the same cluster under the same name: the host gets none of its bytes, the restore fails naming the change, post runs',
    async () => {
      const verified = await backUp();
      const other = path.join(cluster.dir, 'other.tar.gz');
      await copyFile((await backUp()).archive, other);

      const r = await restoreChangedBetweenPasses(verified.archive, () => copyFile(other, verified.archive));
      await refusedAfterTheChange(r, verified.db);
    },
    TIMEOUT_MS,
  );

  it.each([
    [
      'age-encrypted',
      async () => {
        const key = path.join(cluster.dir, 'age-key.txt');
        execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
        const recipient = /age1[0-9a-z]+/.exec(await readFile(key, 'utf8'))![0];
        return { backup: ['--encrypt-to', recipient], restore: ['--identity', key] };
      },
    ],
    [
      'signed',
      async () => {
        const key = path.join(cluster.dir, 'signing');
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', key]);
        const signers = path.join(cluster.dir, 'allowed_signers');
        await writeFile(signers, `ci ${await readFile(`${key}.pub`, 'utf8')}`);
        return { backup: ['--sign-key', key], restore: ['--trusted-keys', signers] };
      },
    ],
  ] as const)(
    'a %s backup replaced by another of the same cluster and keys: the host gets none of its bytes, the restore fails naming the change, post runs',
    async (_kind, keys) => {
      const options = await keys();
      const verified = await backUp(options.backup);
      const other = path.join(cluster.dir, 'other-keyed');
      await copyFile((await backUp(options.backup)).archive, other);
      const r = await restoreChangedBetweenPasses(verified.archive, () => copyFile(other, verified.archive), options.restore);
      await refusedAfterTheChange(r, verified.db);
    },
    TIMEOUT_MS,
  );

  it(
    "an incremental's base replaced by another full backup: the host gets none of the replacement's bytes of the referenced file, the restore fails naming the change, post runs",
    async () => {
      const base = await backUp(['--full']);
      // db.bin unchanged: the incremental refers to the base for it.
      const before = new Set(await readdir(cluster.target));
      succeeded(await cluster.apply(cluster.recipes, ['--incremental']));
      const newest = path.join(
        cluster.target,
        (await readdir(cluster.target)).find((n) => !before.has(n) && n.endsWith('.tar.gz'))!,
      );
      const other = path.join(cluster.dir, 'other-full');
      await copyFile((await backUp(['--full'])).archive, other);
      const r = await restoreChangedBetweenPasses(newest, () => copyFile(other, base.archive));
      await refusedAfterTheChange(r, base.db);
      expect(r.stderr).toContain(`${path.basename(base.archive)} changed after it was verified`);
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
