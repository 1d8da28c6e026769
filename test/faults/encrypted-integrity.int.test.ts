/**
 * Integrity of ENCRYPTED backups (issue 8, item 7): a flipped byte or a truncation inside an
 * age-encrypted archive is caught by `verify --identity` and by `restore --identity`, naming the
 * entry being read, and restore touches no host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let archive: string;
const marker = () => path.join(ws.dir, 'pre-ran');

beforeAll(async () => {
  ws = await workspace('lsb-enc-integrity-');
  await execa('age-keygen', ['-o', path.join(ws.dir, 'key.txt')]);
  const recipient = /age1[0-9a-z]+/.exec(await readFile(path.join(ws.dir, 'key.txt'), 'utf8'))![0];
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await writeFile(path.join(ws.dir, 'big.bin'), randomBytes(3 * 1024 * 1024));
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app }
backup:
  snapshot:
    - run: cat ${ws.dir}/big.bin
      output: big.bin
restore:
  pre:
    - run: touch ${marker()}
  apply:
    - run: cat > /dev/null
      input: big.bin
`,
    ),
  );
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'bk'), '--encrypt-to', recipient]);
  expect(r.exitCode, r.stderr).toBe(0);
  const name = (await readdir(path.join(ws.dir, 'bk'))).find((n) => n.endsWith('.tar.gz.age'))!;
  archive = path.join(ws.dir, 'bk', name);
}, 120_000);
afterAll(async () => ws?.cleanup());

async function damaged(kind: 'flip' | 'truncate'): Promise<string> {
  const copy = path.join(ws.dir, `${kind}`, path.basename(archive));
  await execa('mkdir', ['-p', path.dirname(copy)]);
  await copyFile(archive, copy);
  await copyFile(`${archive}.sha256`, `${copy}.sha256`);
  const size = (await readFile(copy)).length;
  if (kind === 'truncate') await truncate(copy, Math.floor(size * 0.6));
  else {
    const bytes = await readFile(copy);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(copy, bytes);
  }
  return copy;
}

describe.each(['flip', 'truncate'] as const)('an encrypted backup with a %s', (kind) => {
  it('fails verify --identity and restore --identity, naming the entry; no host touched', async () => {
    const copy = await damaged(kind);
    const identity = ['--identity', path.join(ws.dir, 'key.txt')];
    const v = await runCli(['verify', path.basename(copy), '-t', path.dirname(copy), ...identity]);
    expect(v.exitCode).toBe(1);
    expect(v.stdout).toContain("entry 'app/localhost/big.bin'");
    const r = await runCli(['restore', path.basename(copy), '-t', path.dirname(copy), '-b', path.join(ws.dir, 'build'), '--yes', ...identity]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('before any host was touched');
    expect(r.stderr).toContain("'app/localhost/big.bin'");
    expect(existsSync(marker())).toBe(false);
  });
});

it('the intact encrypted backup verifies and restores', async () => {
  const identity = ['--identity', path.join(ws.dir, 'key.txt')];
  const v = await runCli(['verify', path.basename(archive), '-t', path.dirname(archive), ...identity]);
  expect(v.exitCode, v.stdout + v.stderr).toBe(0);
  const recipes = ['--recipes', path.join(ws.dir, 'recipes')];
  const r = await runCli(['restore', path.basename(archive), '-t', path.dirname(archive), '-b', path.join(ws.dir, 'build'), '--yes', ...identity, ...recipes]);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(existsSync(marker())).toBe(true);
});
