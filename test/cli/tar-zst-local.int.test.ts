/**
 * tar.zst into one local directory, through the built CLI: zstd writes the temp file itself and
 * lsbackup hashes it by reading it back (engine/archive/archive-output.ts). The stored bytes
 * must still match the .sha256 sidecar and metadata.json, a failed run must leave nothing
 * behind, and two targets (the piped path) must give the same archive content.
 */
import { execa } from 'execa';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-zst-local-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => ws.cleanup());

const apply = (recipe: string, ...flags: string[]) =>
  runCli(['apply', recipe, '-b', path.join(ws.dir, 'build'), '-f', 'tar.zst', '--cluster', 'c1', ...flags], { timeoutMs: 120_000 });

/** Archive names in `dir`, after checking no temp file or stray lock is left. */
async function storedArchives(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  expect(
    names.filter((n) => n.startsWith('.lsbackup-tmp-')),
    'temp files left',
  ).toEqual([]);
  return names.filter((n) => n.endsWith('.tar.zst'));
}

describe('tar.zst into a local directory', () => {
  it('stores bytes that match the .sha256 sidecar, and entries that match metadata.json', async () => {
    // 20 MiB of random data spans many zstd jobs and many reads of the growing file.
    await execa('sh', [
      '-c',
      `mkdir -p '${ws.dir}/data' && head -c 20000000 /dev/urandom > '${ws.dir}/data/random.bin' && seq 1 200000 > '${ws.dir}/data/numbers.txt'`,
    ]);
    const recipe = await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${ws.dir}/data\n`));
    const target = path.join(ws.dir, 'backups');
    const r = await apply(recipe, '-t', target);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const [archive] = await storedArchives(target);
    expect(archive).toBeTruthy();
    await execa('sha256sum', ['-c', `${archive}.sha256`], { cwd: target });

    const verify = await runCli(['verify', path.join(target, archive!)]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    const listing = (await execa('tar', ['--zstd', '-tvf', path.join(target, archive!)])).stdout;
    expect(listing).toContain(`app/localhost/files${ws.dir}/data/random.bin`);
    const metadata = JSON.parse(await readFile(path.join(target, `${archive}.metadata.json`), 'utf8'));
    const random = metadata.entries.find((e: { path: string }) => e.path.endsWith('/data/random.bin'));
    const expected = (await execa('sha256sum', [path.join(ws.dir, 'data/random.bin')])).stdout.split(' ')[0];
    expect(random.sha256).toBe(expected);
  }, 180_000);

  it('a failed run exits 1 cleanly: no archive, no temp file, no unexpected error', async () => {
    const recipe = await ws.write(
      'recipes/app.yaml',
      recipeYaml('app', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo partial; exit 3\n      output: out.txt\n'),
    );
    const target = path.join(ws.dir, 'backups');
    const r = await apply(recipe, '-t', target);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/unexpected error|Unhandled|node:events/i);
    expect(await storedArchives(target)).toEqual([]);
  }, 180_000);

  it('gives the same entries when it writes one target itself as when it pipes to two', async () => {
    await ws.write('data/a.conf', 'a = 1\n');
    await ws.write('data/sub/b.conf', 'b = 2\n'.repeat(10000));
    const recipe = await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${ws.dir}/data\n`));
    const one = path.join(ws.dir, 'one');
    const [two, three] = [path.join(ws.dir, 'two'), path.join(ws.dir, 'three')];
    expect((await apply(recipe, '-t', one)).exitCode).toBe(0);
    expect((await apply(recipe, '-t', two, '-t', three)).exitCode).toBe(0);
    const entries = async (dir: string) => {
      const [archive] = await storedArchives(dir);
      await execa('sha256sum', ['-c', `${archive}.sha256`], { cwd: dir });
      const metadata = JSON.parse(await readFile(path.join(dir, `${archive}.metadata.json`), 'utf8'));
      return metadata.entries
        .filter((e: { path: string }) => e.path.includes('/files/'))
        .map((e: { path: string; sha256?: string; size: number }) => [e.path, e.sha256, e.size]);
    };
    const direct = await entries(one);
    expect(direct.length).toBeGreaterThan(3);
    expect(await entries(two)).toEqual(direct);
    expect(await entries(three)).toEqual(direct);
  }, 180_000);
});

describe('collect', () => {
  it('an optional path that is missing is not an error (the host sends an empty stream)', async () => {
    await ws.write('data/present.conf', 'x\n');
    const recipe = await ws.write(
      'recipes/app.yaml',
      recipeYaml('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${ws.dir}/absent\n      optional: true\n    - path: ${ws.dir}/data\n`),
    );
    const target = path.join(ws.dir, 'backups');
    const r = await apply(recipe, '-t', target);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(await storedArchives(target)).toHaveLength(1);
  }, 180_000);
});
