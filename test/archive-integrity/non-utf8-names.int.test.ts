/**
 * File names that are not UTF-8 (issue 12 item 8): `x\xff` and `x\xfe` both became `x\uFFFD`,
 * so the backup held two entries of one name, verify failed and restore refused everything.
 * Names keep their bytes (engine/archive/name-bytes.ts; pax `hdrcharset=BINARY` in tar), so the
 * same names come back; zip, which holds UTF-8 names only, refuses such a file clearly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, localCluster, type LocalCluster } from './support.js';

let c: LocalCluster;
let tree: string;
/** A name under `tree` as bytes: its text, then raw bytes. */
const bytesPath = (...parts: (string | number[])[]) =>
  Buffer.concat([Buffer.from(tree + '/'), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))]);

beforeEach(async () => {
  c = await localCluster();
  tree = path.join(c.data, 'tree');
  await mkdir(tree, { recursive: true });
  await writeFile(bytesPath('x', [0xff]), 'ff\n');
  await writeFile(bytesPath('x', [0xfe]), 'fe\n');
  await writeFile(bytesPath('caf\u00e9'), 'utf8\n'); // valid UTF-8 stays as it is
  await mkdir(bytesPath('dir', [0xe9]));
  await writeFile(bytesPath('dir', [0xe9], '/in', [0x80]), 'deep\n');
  await symlink(bytesPath('x', [0xff]), bytesPath('link', [0xc3])); // a lone lead byte; target not UTF-8 either
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\nrestore:\n  apply:\n    - files: ${tree}\n`);
});
afterEach(async () => c.cleanup());

async function names(dir: Buffer | string): Promise<string[]> {
  return (await readdir(dir, { encoding: 'buffer' })).map((n) => n.toString('hex')).sort();
}

describe.each(['tar.gz', 'tar.zst'])('%s', (format) => {
  it('backs up, verifies and restores names that are not UTF-8, byte for byte', async () => {
    const before = await names(tree);
    const apply = await c.apply(['--format', format]);
    expect(apply.exitCode, cliOutput(apply)).toBe(0);
    const archive = await c.archive(`.${format}`);
    const verify = await c.verify(archive);
    expect(verify.exitCode, cliOutput(verify)).toBe(0);

    await rm(tree, { recursive: true });
    const restore = await c.restore(archive);
    expect(restore.exitCode, cliOutput(restore)).toBe(0);
    expect(await names(tree)).toEqual(before);
    expect(await readFile(bytesPath('x', [0xff]), 'utf8')).toBe('ff\n');
    expect(await readFile(bytesPath('x', [0xfe]), 'utf8')).toBe('fe\n');
    expect(await readFile(bytesPath('caf\u00e9'), 'utf8')).toBe('utf8\n');
    expect(await readFile(bytesPath('dir', [0xe9], '/in', [0x80]), 'utf8')).toBe('deep\n');
    expect(await readlink(bytesPath('link', [0xc3]), { encoding: 'buffer' })).toEqual(bytesPath('x', [0xff]));
  }, 120_000);
});

it('zip refuses a name that is not UTF-8, naming the format to use', async () => {
  const apply = await c.apply(['--format', 'zip']);
  expect(apply.exitCode, cliOutput(apply)).not.toBe(0);
  expect(apply.stdout + apply.stderr).toContain('zip archives hold UTF-8 names only and this name is not UTF-8; use tar.gz or tar.zst');
  // The host's tar succeeded: the step's error says what lsbackup refused, not "exit code 0".
  expect(apply.stdout + apply.stderr).not.toContain('exit code 0');
});

it('zip refuses a name with a backslash (zip reads it as a separator: back\\slash came back as back/slash); tar keeps it', async () => {
  await rm(tree, { recursive: true });
  await mkdir(tree);
  await writeFile(path.join(tree, 'back\\slash'), 'one file\n');
  const zip = await c.apply(['--format', 'zip']);
  expect(zip.exitCode, cliOutput(zip)).not.toBe(0);
  expect(zip.stdout + zip.stderr).toContain("zip archives cannot hold a '\\' in a name");
  const tar = await c.apply(['--format', 'tar.gz']);
  expect(tar.exitCode, cliOutput(tar)).toBe(0);
  await rm(tree, { recursive: true });
  expect((await c.restore(await c.archive('.tar.gz'))).exitCode).toBe(0);
  expect(await readdir(tree)).toEqual(['back\\slash']);
});
