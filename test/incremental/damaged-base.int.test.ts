/**
 * A chain member damaged in the target (docs/incremental.md, "Damaged backups"), through the
 * built CLI on the local host: once a verify has found it (`lsbackup verify`, or the job's
 * `verify: true`), it is recorded in the target, `list` and `show` stop calling the backups that
 * need it successful, the message names it and says what the next run does, and the next run of
 * the incremental job is a full the operator did not have to ask for, which restores.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { expectRestores } from './steady-tree.js';
import { cliOutput, runCli, type CliResult } from '../helpers/cli.js';
import { localCluster, type LocalCluster } from '../archive-integrity/support.js';

let c: LocalCluster;
let tree: string;
let config: string;
beforeEach(async () => {
  c = await localCluster();
  tree = path.join(c.data, 'tree');
  await c.write('data/tree/steady.txt', 'steady\n'.repeat(1000));
  await c.write('data/tree/changing.txt', 'first\n');
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\nrestore:\n  apply:\n    - files: ${tree}\n`);
});
afterEach(async () => c.cleanup());

async function writeConfig(verify: boolean): Promise<void> {
  config = await c.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\ncluster: incr\nbuild: ${c.build}\nrecipes: [${c.recipes}]\ntargets: [${c.target}]\n` +
      `incremental: { fullEvery: 7d, maxChain: 14 }\nretention: { keepLast: 1 }\nverify: ${verify}\n`,
  );
}

/** `lsbackup run` of the config's job: its result and the archive it stored, with its metadata sidecar. */
async function runJob(): Promise<CliResult & { name: string; metadata: BackupMetadata }> {
  const before = new Set(await readdir(c.target).catch(() => []));
  const run = await runCli(['run', '-c', config]);
  const name = (await readdir(c.target)).find((n) => !before.has(n) && n.endsWith('.tar.gz'));
  expect(name, cliOutput(run)).toBeDefined();
  return { ...run, name: name!, metadata: JSON.parse(await readFile(path.join(c.target, `${name}.metadata.json`), 'utf8')) };
}

/** As the tester did: `printf XXXX | dd of=<archive> bs=1 seek=300 conv=notrunc`. */
async function damageInPlace(name: string): Promise<void> {
  const file = await open(path.join(c.target, name), 'r+');
  await file.write(Buffer.from('XXXX'), 0, 4, 300);
  await file.close();
}

const catalog = (command: string, ...args: string[]) => runCli([command, ...args, '-c', config]);

async function listed(): Promise<Map<string, { status: string; damaged?: string }>> {
  const list = await catalog('list', '--json');
  expect(list.exitCode, cliOutput(list)).toBe(0);
  const rows = list.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'list.backup');
  return new Map(rows.map((r) => [r.name, r]));
}

/** The tester's repro: the job's full, damaged in place in the target; then one file changes and another does not. */
async function damagedFull(verify: boolean): Promise<string> {
  await writeConfig(verify);
  const full = await runJob();
  expect(full.exitCode, cliOutput(full)).toBe(0);
  await damageInPlace(full.name);
  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  return full.name;
}

it('without verify: once `lsbackup verify` found the full damaged, list says so, and the next run is a full without --full', async () => {
  const full = { name: await damagedFull(false) };
  // The run reads the base's metadata sidecar only: it cannot know yet.
  const incremental = await runJob();
  expect(incremental.exitCode, cliOutput(incremental)).toBe(0);
  expect(incremental.metadata.base?.archive).toBe(full.name);

  const verify = await catalog('verify', 'latest');
  expect(verify.exitCode, cliOutput(verify)).toBe(1);
  expect(verify.stdout).toContain(`damaged        ${full.name} (it is of its chain: ${incremental.name} cannot be restored without it)`);
  expect(verify.stdout).toContain('the next incremental run makes a full backup');
  const after = await listed();
  expect(after.get(full.name)).toMatchObject({ status: 'success', damaged: full.name });
  expect(after.get(incremental.name)).toMatchObject({ status: 'success', damaged: full.name });
  const text = await catalog('list');
  expect(text.stdout).toMatch(new RegExp(`${incremental.name}\\s.*CHAIN DAMAGED`));
  expect(text.stdout).toMatch(new RegExp(`${full.name}\\s.*DAMAGED`));
  expect(text.stdout).not.toMatch(/\ssuccess\s/);
  const show = await catalog('show', incremental.name);
  expect(show.stdout).toContain(
    `status      CHAIN DAMAGED: a verify found ${full.name}, of its chain, damaged; it does not restore (the run recorded success)`,
  );

  // No --full: the job's next run is a full, and says why.
  const next = await runJob();
  expect(next.exitCode, cliOutput(next)).toBe(0);
  expect(next.metadata.kind).toBe('full');
  expect(cliOutput(next)).toContain(`a full backup is made: ${full.name}, of the chain of ${incremental.name}, was found damaged by a verify`);
  // Retention (keepLast 1) took the damaged chain away, the marker with it.
  expect((await readdir(c.target)).filter((n) => n.startsWith('lsbackup-')).sort()).toEqual(
    [next.name, `${next.name}.metadata.json`, `${next.name}.sha256`].sort(),
  );
  await expectRestores(c, tree, next.name);
}, 300_000);

it('with verify: true: the failing run names the damaged base and what happens next; the next run is a full that succeeds', async () => {
  const full = { name: await damagedFull(true) };
  const failing = await runJob();
  expect(failing.exitCode, cliOutput(failing)).toBe(1);
  expect(failing.metadata.base?.archive).toBe(full.name);
  expect(failing.stderr).toContain(`damaged ${full.name} (it is of its chain: ${failing.name} cannot be restored without it)`);
  expect(failing.stderr).toContain('the next incremental run makes a full backup');
  expect((await listed()).get(failing.name)).toMatchObject({ damaged: full.name });

  const next = await runJob();
  expect(next.exitCode, cliOutput(next)).toBe(0);
  expect(next.metadata.kind).toBe('full');
  await expectRestores(c, tree, next.name);
}, 300_000);

it('a verify that finds a backup marked damaged intact again removes the mark', async () => {
  await writeConfig(false);
  const full = await runJob();
  const stored = path.join(c.target, full.name);
  const intact = await readFile(stored);
  await damageInPlace(full.name);
  expect((await catalog('verify', full.name)).exitCode).toBe(1);
  expect((await listed()).get(full.name)?.damaged).toBe(full.name);

  // The damage was the read's, say, or the archive was put back from another copy.
  await writeFile(stored, intact);
  const verify = await catalog('verify', full.name);
  expect(verify.exitCode, cliOutput(verify)).toBe(0);
  expect(verify.stdout).toContain(`intact         ${full.name}: found damaged before, no longer marked so`);
  expect((await listed()).get(full.name)?.damaged).toBeUndefined();
  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  expect((await runJob()).metadata.base?.archive).toBe(full.name);
}, 300_000);
