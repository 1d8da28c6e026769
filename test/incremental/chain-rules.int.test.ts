/**
 * The rules around a chain of incrementals (docs/incremental.md), through the built CLI on the
 * local host: a base deleted out of band or damaged is named by restore (before any host is touched) and
 * by verify, and the next incremental is a full instead of a reference to bytes that are gone;
 * a file that changed while it was read is sent again, not referred to; prune keeps a chain
 * whole; a job's maxChain forces a full, and `run --full` too.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { cliOutput, runCli } from '../helpers/cli.js';
import { localCluster, type LocalCluster } from '../archive-integrity/support.js';
import { waitFor } from '../faults/support.js';
import { readEntries, withMetadata } from '../faults/crafted-archive.js';

let c: LocalCluster;
let tree: string;
beforeEach(async () => {
  c = await localCluster();
  await mkdir(c.target, { recursive: true });
  tree = path.join(c.data, 'tree');
  await c.write('data/tree/steady.txt', 'steady\n'.repeat(1000));
  await c.write('data/tree/sub/other.txt', 'other\n');
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\nrestore:\n  apply:\n    - files: ${tree}\n`);
});
afterEach(async () => c.cleanup());

const entry = (m: BackupMetadata, file: string) => m.entries.find((e) => e.path === `app/localhost/files${file}`);

async function deleteBackup(name: string): Promise<void> {
  for (const n of await readdir(c.target)) if (n.startsWith(name)) await rm(path.join(c.target, n));
}

it('a base deleted out of band: restore and verify name it before any host is touched; the next incremental is a full', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'new.txt'), 'new\n');
  const incr = await c.backup(['--incremental']);
  expect(incr.metadata.kind).toBe('incremental');
  expect(entry(incr.metadata, `${tree}/steady.txt`)?.ref).toBe(full.metadata.backupId);
  expect(entry(incr.metadata, `${tree}/new.txt`)?.ref).toBeUndefined();

  await deleteBackup(full.name);
  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, incr.name));
  expect(restore.exitCode, cliOutput(restore)).not.toBe(0);
  expect(cliOutput(restore)).toContain(`its chain needs ${full.name}`);
  await expect(stat(tree), 'no host was touched').rejects.toThrow(/ENOENT/);

  const verify = await c.verify(path.join(c.target, incr.name));
  expect(verify.exitCode, cliOutput(verify)).not.toBe(0);
  expect(verify.stdout).toContain(`the chain needs ${full.name}`);

  await c.write('data/tree/steady.txt', 'steady\n'.repeat(1000));
  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind).toBe('full');
  expect(next.metadata.entries.filter((e) => e.ref !== undefined)).toEqual([]);
  expect(next.output).toContain('a full backup is made');
}, 300_000);

it('a damaged base: restore refuses naming it before any host is touched, verify names it', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'new.txt'), 'new\n');
  const incr = await c.backup(['--incremental']);
  // One byte of the stored base flipped (bit rot, a bad copy): its .sha256 sidecar no longer matches.
  const file = path.join(c.target, full.name);
  const bytes = await readFile(file);
  bytes[bytes.length >> 1] ^= 0xff;
  await writeFile(file, bytes);

  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, incr.name));
  expect(restore.exitCode, cliOutput(restore)).not.toBe(0);
  expect(cliOutput(restore)).toContain(full.name);
  await expect(stat(tree), 'no host was touched').rejects.toThrow(/ENOENT/);
  const verify = await c.verify(path.join(c.target, incr.name));
  expect(verify.exitCode, cliOutput(verify)).not.toBe(0);
  expect(verify.stdout).toContain(`${full.name}: `);
}, 300_000);

it('a base replaced by a consistent forgery without its .sha256 sidecar: restore (staged and --stream) refuses it by the sha256 its child recorded', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'new.txt'), 'new\n');
  const incr = await c.backup(['--incremental']);
  const steady = `app/localhost/files${tree}/steady.txt`;
  expect(entry(incr.metadata, `${tree}/steady.txt`)?.ref).toBe(full.metadata.backupId);
  // The unchanged file's owner, mode and time come from the base's header: a forged base, every
  // entry matching its own metadata.json, gives it setuid. Without the sidecar only the child's
  // record of the base's sha256 tells.
  const file = path.join(c.target, full.name);
  const all = await readEntries(await readFile(file));
  const metadata = JSON.parse(all.find((e) => e.path === 'metadata.json')!.body!.toString('utf8')) as Record<string, unknown>;
  const forged = all.filter((e) => e.path !== 'metadata.json').map((e) => (e.path === steady ? { ...e, mode: 0o4755 } : e));
  await writeFile(file, withMetadata(forged, metadata));
  await rm(`${file}.sha256`);

  await rm(tree, { recursive: true });
  for (const extra of [['--keep-special-modes'], ['--keep-special-modes', '--stream']]) {
    const restore = await c.restore(path.join(c.target, incr.name), extra);
    expect(restore.exitCode, cliOutput(restore)).not.toBe(0);
    expect(cliOutput(restore)).toContain(`${full.name} has sha256 `);
    expect(cliOutput(restore)).toContain(`but ${incr.name} was based on an archive with sha256 ${incr.metadata.base!.sha256}`);
    await expect(stat(tree), `${extra.join(' ')}: no host was touched`).rejects.toThrow(/ENOENT/);
  }
  const verify = await c.verify(path.join(c.target, incr.name));
  expect(verify.exitCode, cliOutput(verify)).not.toBe(0);
  expect(verify.stdout).toContain(`but ${incr.name} was based on an archive with sha256 ${incr.metadata.base!.sha256}`);
}, 300_000);

it('verify of an incremental fetched with get (no sidecars, no bases beside it) says what it could not check', async () => {
  await c.backup(['--full']);
  await writeFile(path.join(tree, 'new.txt'), 'new\n');
  const incr = await c.backup(['--incremental']);
  const fetched = path.join(c.dir, 'fetched');
  await mkdir(fetched);
  const get = await runCli(['get', incr.name, fetched, '-t', c.target]);
  expect(get.exitCode, cliOutput(get)).toBe(0);

  const verify = await runCli(['verify', incr.name, '-t', fetched]);
  expect(verify.exitCode, cliOutput(verify)).toBe(1);
  expect(verify.stdout).toContain("stored digest  NOT checked: the archive's own sha256 — its .sha256 sidecar is missing");
  expect(verify.stdout).not.toContain('DOES NOT MATCH');
  expect(verify.stdout).toContain('chain          NOT CHECKED: no base of it was found');
  expect(verify.stdout).toContain(`the chain needs ${incr.metadata.base!.archive}`);
}, 300_000);

it('a file that changed while it was read is sent again by the next incremental, not referred to', async () => {
  const log = await c.write('data/tree/app.log', 'x'.repeat(32 * 1024 * 1024));
  const writer = execa('sh', ['-c', `while :; do printf '%0512d\\n' 0 >> '${log}'; done`], { reject: false });
  let full;
  try {
    const start = (await stat(log)).size;
    await waitFor(async () => (await stat(log)).size > start, 60_000, 'the log to grow');
    full = await c.backup(['--full']);
  } finally {
    writer.kill('SIGKILL');
    await writer;
  }
  expect(entry(full.metadata, log)?.changedDuringRead).toBe(true);
  const incr = await c.backup(['--incremental']);
  const again = entry(incr.metadata, log)!;
  expect(again.ref).toBeUndefined();
  expect(again.size).toBe((await stat(log)).size);
  expect(entry(incr.metadata, `${tree}/steady.txt`)?.ref).toBe(full.metadata.backupId);

  const expected = await readFile(log);
  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, incr.name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect((await readFile(log)).equals(expected)).toBe(true);
  expect(await readFile(path.join(tree, 'steady.txt'), 'utf8')).toBe('steady\n'.repeat(1000));
}, 300_000);

it('prune keeps the bases a kept incremental needs, saying why; the newest still restores', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'a.txt'), 'a\n');
  const first = await c.backup(['--incremental']);
  await writeFile(path.join(tree, 'b.txt'), 'b\n');
  const second = await c.backup(['--incremental']);

  const prune = await runCli(['prune', '-t', c.target, '--keep-last', '1']);
  expect(prune.exitCode, cliOutput(prune)).toBe(0);
  expect(prune.stdout).toContain(`kept: ${second.name} is an incremental on it`);
  expect(prune.stdout).toContain(`kept: ${first.name} is an incremental on it`);
  const left = await readdir(c.target);
  for (const b of [full, first, second]) expect(left).toContain(b.name);

  const before = await readFile(path.join(tree, 'steady.txt'));
  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, second.name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect((await readFile(path.join(tree, 'steady.txt'))).equals(before)).toBe(true);
  expect(await readFile(path.join(tree, 'b.txt'), 'utf8')).toBe('b\n');
}, 300_000);

it('list names the base of each incremental, show too', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'a.txt'), 'a\n');
  const incr = await c.backup(['--incremental']);
  const list = await runCli(['list', '-t', c.target]);
  expect(list.exitCode, cliOutput(list)).toBe(0);
  // Was: KIND 'incremental' alone (only --json named the base).
  expect(list.stdout).toMatch(new RegExp(`^${incr.name}\\s.*\\sincremental\\s+${full.name}$`, 'm'));
  expect(list.stdout).toMatch(new RegExp(`^${full.name}\\s.*\\sfull\\s+-$`, 'm'));
  const show = await runCli(['show', incr.name, '-t', c.target]);
  expect(show.stdout).toContain(`kind        incremental on ${full.name}`);
}, 300_000);

it("prune keeps every older backup of the cluster while an incremental's metadata sidecar cannot be read (its base is unknown); it still restores", async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'a.txt'), 'a\n');
  const incremental = await c.backup(['--incremental']);
  await writeFile(path.join(tree, 'b.txt'), 'b\n');
  const later = await c.backup(['--full']);
  // The incremental's sidecar damaged (restore reads the archive's own metadata.json).
  await writeFile(path.join(c.target, `${incremental.name}.metadata.json`), '{ not json');

  const prune = await runCli(['prune', '-t', c.target, '--keep-last', '1']);
  expect(prune.exitCode, cliOutput(prune)).toBe(0);
  expect(prune.stdout).toContain(`kept: ${incremental.name} may be an incremental on it (its metadata cannot be read`);
  const left = await readdir(c.target);
  for (const b of [full, incremental, later]) expect(left, b.name).toContain(b.name);

  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, incremental.name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect(await readFile(path.join(tree, 'a.txt'), 'utf8')).toBe('a\n');
  expect(await readFile(path.join(tree, 'steady.txt'), 'utf8')).toBe('steady\n'.repeat(1000));
}, 300_000);

it("a job's maxChain forces a full after that many incrementals; run --full forces one at once", async () => {
  const config = await c.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\ncluster: incr\nbuild: ${c.build}\nrecipes: [${c.recipes}]\ntargets: [${c.target}]\nincremental: { maxChain: 2 }\n`,
  );
  const kinds: string[] = [];
  for (const extra of [[], [], [], [], ['--full']]) {
    const before = new Set(await readdir(c.target));
    const run = await runCli(['run', '-c', config, ...extra]);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const name = (await readdir(c.target)).find((n) => !before.has(n) && n.endsWith('.tar.gz.metadata.json'))!;
    kinds.push((JSON.parse(await readFile(path.join(c.target, name), 'utf8')) as BackupMetadata).kind!);
    await writeFile(path.join(tree, `round-${kinds.length}.txt`), 'x\n');
  }
  // No backup yet: a full; two incrementals; the chain is full (maxChain 2): a full; then --full.
  expect(kinds).toEqual(['full', 'incremental', 'incremental', 'full', 'full']);
}, 300_000);

it('an --incremental after a plain apply is a full, saying why (the plain backup recorded no file signatures); the next one refers to it', async () => {
  const plain = await c.backup([]);
  expect(
    plain.metadata.entries.some((e) => e.stat !== undefined),
    'a plain apply records no signatures',
  ).toBe(false);
  expect(plain.metadata.fileSignatures).toBeUndefined();
  const first = await c.backup(['--incremental']);
  expect(first.metadata.kind, first.output).toBe('full');
  expect(first.metadata.base).toBeUndefined();
  expect(first.metadata.fileSignatures).toBe(true);
  expect(first.output).toContain(`incremental: a full backup is made: ${plain.name} records no file signatures to compare with`);
  const second = await c.backup(['--incremental']);
  expect(second.metadata.kind, second.output).toBe('incremental');
  expect(entry(second.metadata, `${tree}/steady.txt`)?.ref, 'unchanged, so a reference').toBe(first.metadata.backupId);
}, 300_000);

it('the base is found from the newest metadata alone: its chain is recorded; an older backup without one is followed, and a gap in it forces a full', async () => {
  const full = await c.backup(['--full']);
  const first = await c.backup(['--incremental']);
  expect(first.metadata.base?.chain).toEqual([full.name]);
  const second = await c.backup(['--incremental']);
  expect(second.metadata.base?.chain, 'newest first, down to the full').toEqual([first.name, full.name]);

  // Only the newest sidecar is read: the full's, damaged, does not force a full (the chain is known
  // by name, and restore checks every member against the archive's own metadata).
  await writeFile(path.join(c.target, `${full.name}.metadata.json`), '{ not json');
  await writeFile(path.join(tree, 'c.txt'), 'c\n');
  const third = await c.backup(['--incremental']);
  expect(third.metadata.base?.backupId).toBe(second.metadata.backupId);
  expect(third.metadata.base?.chain).toEqual([second.name, first.name, full.name]);
  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, third.name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect(await readFile(path.join(tree, 'steady.txt'), 'utf8')).toBe('steady\n'.repeat(1000));
  expect(await readFile(path.join(tree, 'c.txt'), 'utf8')).toBe('c\n');

  // Made before chains were recorded: the members are read one by one, and a member whose
  // metadata is not the backup its child names is a gap.
  const sidecar = path.join(c.target, `${third.name}.metadata.json`);
  const withoutChain = JSON.parse(await readFile(sidecar, 'utf8')) as BackupMetadata;
  delete withoutChain.base!.chain;
  await writeFile(sidecar, JSON.stringify(withoutChain));
  const fourth = await c.backup(['--incremental']);
  expect(fourth.metadata.kind, fourth.output).toBe('full');
  expect(fourth.output).toContain(
    `the chain of ${third.name} is incomplete in ${c.target}: ${full.name} is not the backup ${first.name} names (its metadata does not read)`,
  );
}, 300_000);

it('a copy stored under a newer name is never the base; a failed newest backup is passed over', async () => {
  const full = await c.backup(['--full']);
  // A renamed copy: its name says it is newer than any run.
  for (const suffix of ['', '.metadata.json', '.sha256']) {
    await writeFile(path.join(c.target, `lsbackup-build-20991231T000000Z.tar.gz${suffix}`), await readFile(path.join(c.target, `${full.name}${suffix}`)));
  }
  const first = await c.backup(['--incremental']);
  expect(first.metadata.base?.archive).toBe(full.name);

  const sidecar = path.join(c.target, `${first.name}.metadata.json`);
  const failed = JSON.parse(await readFile(sidecar, 'utf8')) as BackupMetadata;
  await writeFile(sidecar, JSON.stringify({ ...failed, status: 'failed' }));
  const second = await c.backup(['--incremental']);
  expect(second.metadata.base?.archive, 'the newest that did not fail').toBe(full.name);
}, 300_000);
