/**
 * Incrementals of encrypted backups (docs/incremental.md): a backup whose metadata sidecar is
 * encrypted is a base only when the run holds the identity that reads it (`apply --identity`, or a
 * job's `encryption.identityFile`); without it the run makes a full and says which backup it
 * could not read and what to give (also when the identity given is not one of its recipients'). The chain restores with the identity, and only when each base
 * is the one its child recorded (age proves only that someone with the public recipient wrote it).
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { cliOutput, runCli } from '../helpers/cli.js';
import { localCluster, type LocalCluster } from '../archive-integrity/support.js';
import { readEntries, withMetadata } from '../faults/crafted-archive.js';

let c: LocalCluster;
let tree: string;
let keyFile: string;
let recipient: string;
beforeEach(async () => {
  c = await localCluster();
  await mkdir(c.target, { recursive: true });
  tree = path.join(c.data, 'tree');
  await c.write('data/tree/steady.txt', 'steady\n'.repeat(1000));
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\nrestore:\n  apply:\n    - files: ${tree}\n`);
  keyFile = path.join(c.dir, 'key.txt');
  await execa('age-keygen', ['-o', keyFile]);
  recipient = (await execa('age-keygen', ['-y', keyFile])).stdout.trim();
});
afterEach(async () => c.cleanup());

/** The archive a run added to the target. */
async function added(run: () => Promise<{ exitCode: number }>): Promise<{ name: string; output: string }> {
  const before = new Set(await readdir(c.target));
  const result = await run();
  expect(result.exitCode, cliOutput(result as never)).toBe(0);
  const names = (await readdir(c.target)).filter((n) => !before.has(n) && n.endsWith('.tar.gz.age'));
  expect(names, 'one new archive').toHaveLength(1);
  return { name: names[0]!, output: cliOutput(result as never) };
}

/** What `show --identity` says the backup is: its kind and the base it names. */
async function kindOf(name: string): Promise<{ kind: string; base?: string }> {
  const show = await runCli(['show', name, '-t', c.target, '--identity', keyFile, '--json']);
  expect(show.exitCode, cliOutput(show)).toBe(0);
  const { metadata } = JSON.parse(show.stdout) as { metadata: { kind: string; base?: { archive: string } } };
  return { kind: metadata.kind, base: metadata.base?.archive };
}

it('apply --identity reads an encrypted base: the run is an incremental, and the chain restores with the identity', async () => {
  const full = await added(() => c.apply(['--encrypt-to', recipient, '--full']));
  await writeFile(path.join(tree, 'new.txt'), 'new\n');

  // Without the identity the encrypted base cannot be read: a full, saying which backup and what to give.
  const blind = await added(() => c.apply(['--encrypt-to', recipient, '--incremental']));
  expect(blind.output).toContain('a full backup is made');
  expect(blind.output).toContain('metadata encrypted');
  expect(blind.output).toContain('give --identity or the config encryption.identityFile');
  expect((await kindOf(blind.name)).kind).toBe('full');
  // With an identity that is not one of its recipients': a full too, saying so.
  const otherKey = path.join(c.dir, 'other-key.txt');
  await execa('age-keygen', ['-o', otherKey]);
  const wrong = await added(() => c.apply(['--encrypt-to', recipient, '--incremental', '--identity', otherKey]));
  expect(wrong.output).toContain(
    `a full backup is made: ${c.target} holds no readable backup of cluster build to compare with (${blind.name}: metadata unreadable: `,
  );
  expect(wrong.output).toContain('none of the identities given opens it');
  expect((await kindOf(wrong.name)).kind).toBe('full');

  await writeFile(path.join(tree, 'newer.txt'), 'newer\n');
  const incr = await added(() => c.apply(['--encrypt-to', recipient, '--incremental', '--identity', keyFile]));
  expect(await kindOf(incr.name)).toEqual({ kind: 'incremental', base: wrong.name });
  expect(full.name).not.toBe(blind.name);

  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, incr.name), ['--identity', keyFile]);
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect((await readdir(tree)).sort()).toEqual(['new.txt', 'newer.txt', 'steady.txt']);
}, 300_000);

it('a job with encryption.identityFile makes incrementals of its encrypted backups; a bad identity stops the run before any host', async () => {
  const config = await c.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\ncluster: sealed\nbuild: ${c.build}\nrecipes: [${c.recipes}]\ntargets: [${c.target}]\n` +
      `incremental: { maxChain: 5 }\nencryption: { recipients: [${recipient}], identityFile: ${keyFile} }\n`,
  );
  const first = await added(() => runCli(['run', '-c', config]));
  await writeFile(path.join(tree, 'new.txt'), 'new\n');
  const second = await added(() => runCli(['run', '-c', config]));
  expect((await kindOf(first.name)).kind).toBe('full');
  expect(await kindOf(second.name)).toEqual({ kind: 'incremental', base: first.name });

  await writeFile(keyFile, 'not a key\n');
  const before = await readdir(c.target);
  const bad = await runCli(['run', '-c', config]);
  expect(bad.exitCode, cliOutput(bad)).not.toBe(0);
  expect(cliOutput(bad)).toContain(`identity file ${keyFile}: line 1 is not an age secret key`);
  expect(await readdir(c.target), 'nothing stored').toEqual(before);
}, 300_000);

it('an encrypted base re-encrypted to the public recipient with a forged mode: restore (staged and --stream) refuses it by the sha256 its child recorded', async () => {
  const full = await added(() => c.apply(['--encrypt-to', recipient, '--full']));
  await writeFile(path.join(tree, 'new.txt'), 'new\n');
  const incr = await added(() => c.apply(['--encrypt-to', recipient, '--incremental', '--identity', keyFile]));
  expect((await kindOf(incr.name)).base).toBe(full.name);

  // Anyone with the public recipient can write a base that decrypts and matches its own
  // metadata.json, with a .sha256 sidecar to match: the unchanged file becomes setuid.
  const file = path.join(c.target, full.name);
  const plain = (await execa('age', ['-d', '-i', keyFile, file], { encoding: 'buffer' })).stdout;
  const all = await readEntries(Buffer.from(plain));
  const metadata = JSON.parse(all.find((e) => e.path === 'metadata.json')!.body!.toString('utf8')) as Record<string, unknown>;
  const forged = all.filter((e) => e.path !== 'metadata.json').map((e) => (e.path.endsWith('/steady.txt') ? { ...e, mode: 0o4755 } : e));
  const sealed = (await execa('age', ['-r', recipient], { input: withMetadata(forged, metadata), encoding: 'buffer' })).stdout;
  await writeFile(file, sealed);
  await writeFile(`${file}.sha256`, `${createHash('sha256').update(sealed).digest('hex')}  ${full.name}\n`);

  await rm(tree, { recursive: true });
  for (const extra of [[], ['--stream']]) {
    const restore = await c.restore(path.join(c.target, incr.name), ['--identity', keyFile, '--keep-special-modes', ...extra]);
    expect(restore.exitCode, cliOutput(restore)).not.toBe(0);
    expect(cliOutput(restore)).toContain(`${full.name} has sha256 `);
    expect(cliOutput(restore)).toContain(`but ${incr.name} was based on an archive with sha256 `);
    await expect(stat(tree), `${extra.join(' ')}: no host was touched`).rejects.toThrow(/ENOENT/);
  }
}, 300_000);
