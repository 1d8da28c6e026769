/**
 * An encrypted backup read with an identity it was not encrypted for (another age-keygen key):
 * the operator's mistake, not damage. `verify` said `damaged`, recorded `<archive>.damaged` in the
 * target (so `list` showed it DAMAGED, retention stopped counting it and the next incremental run
 * made a full) and listed problems that follow from reading nothing (no metadata.json, the
 * signature sidecar "not this archive's"); `restore` called the archive "damaged or truncated at
 * its start". Now both say no identity given opens it; verify exits 1 without marking anything.
 */
import { execFileSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cliOutput, collectedTree, localCluster, type LocalCluster } from '../archive-integrity/support.js';

let c: LocalCluster;
let tree: string;
let archive: string;
let otherKey: string;

beforeAll(async () => {
  c = await localCluster();
  tree = await collectedTree(c);
  await writeFile(path.join(tree, 'f'), 'secret data\n');
  const key = path.join(c.dir, 'key.txt');
  otherKey = path.join(c.dir, 'other-key.txt');
  execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
  execFileSync('age-keygen', ['-o', otherKey], { stdio: 'ignore' });
  const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
  const apply = await c.apply(['--encrypt-to', recipient]);
  expect(apply.exitCode, cliOutput(apply)).toBe(0);
  archive = await c.archive('.tar.gz.age');
}, 120_000);
afterAll(async () => c?.cleanup());

it('verify with another identity says so, exit 1, and marks nothing damaged', async () => {
  const verify = await runCli(['verify', path.basename(archive), '-t', c.target, '--identity', otherKey]);
  expect(verify.exitCode, cliOutput(verify)).toBe(1);
  expect(verify.stdout).toContain('none of the identities given opens it (it was encrypted for other recipients)');
  expect(verify.stdout).toContain('matches the .sha256 sidecar');
  expect(verify.stdout).not.toMatch(/damaged|metadata\.json is missing|not this archive's signature/);
  expect((await readdir(c.target)).filter((n) => n.endsWith('.damaged'))).toEqual([]);
  const list = await runCli(['list', '-t', c.target]);
  expect(list.stdout).not.toContain('DAMAGED');
}, 120_000);

it.each([[[]], [['--stream']]])(
  'restore %j with another identity is refused as a key problem, before any host is touched',
  async (extra: string[]) => {
    const restore = await c.restore(archive, ['-t', c.target, '--identity', otherKey, ...extra]);
    expect(restore.exitCode, cliOutput(restore)).toBe(1);
    expect(restore.stderr).toContain('refused before any host was touched: it cannot be decrypted');
    expect(restore.stderr).toContain('none of the identities given opens it');
    expect(restore.stderr).not.toContain('damaged');
  },
  120_000,
);
