/**
 * Bytes appended to a stored archive, its `.sha256` sidecar rewritten to match (a copy tool that
 * padded it, or someone covering a change): `zstd -t` and `tar --zstd -x` refuse such a tar.zst
 * (`unsupported format`, exit 1). zstd's stdout ended before its exit status was known, and the
 * reader finished at the end of the output: `verify` said OK and `restore --stream` restored,
 * while a staged restore refused it. Now all three refuse it, and no host command runs.
 */
import { createHash } from 'node:crypto';
import { appendFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliOutput, collectedTree, localCluster, type LocalCluster } from './support.js';

let c: LocalCluster;
let tree: string;
let archive: string;

beforeAll(async () => {
  c = await localCluster();
  tree = await collectedTree(c);
  await writeFile(path.join(tree, 'f'), 'kept\n');
  const apply = await c.apply(['--format', 'tar.zst']);
  expect(apply.exitCode, cliOutput(apply)).toBe(0);
  archive = await c.archive('.tar.zst');
  await appendFile(archive, 'garbage after the last frame\n');
  const digest = createHash('sha256')
    .update(await readFile(archive))
    .digest('hex');
  await writeFile(`${archive}.sha256`, `${digest}  ${path.basename(archive)}\n`);
  await rm(tree, { recursive: true });
}, 120_000);
afterAll(async () => c?.cleanup());

it('verify says the tar.zst is damaged, naming zstd’s refusal', async () => {
  const verify = await c.verify(archive);
  expect(verify.exitCode, cliOutput(verify)).toBe(1);
  expect(verify.stdout).toContain('FAILED');
  expect(verify.stdout).toContain("'zstd' exited with 1");
  // metadata.json was read whole: the damage is after it, not in it.
  expect(verify.stdout).not.toContain("entry 'metadata.json'");
}, 120_000);

it.each([[[]], [['--stream']]])(
  'restore %j refuses it before any host is touched',
  async (extra: string[]) => {
    const restore = await c.restore(archive, extra);
    expect(restore.exitCode, cliOutput(restore)).toBe(1);
    expect(restore.stderr).toContain('refused before any host was touched');
    expect(restore.stderr).toContain("'zstd' exited with 1");
    expect(restore.stderr).toContain("damaged or truncated after entry 'metadata.json'");
    await expect(stat(tree)).rejects.toThrow(/ENOENT/);
  },
  120_000,
);
