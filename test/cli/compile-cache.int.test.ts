/**
 * The built CLI runs its bundle from a V8 code cache (engine/cli/compile-cache.ts): written once
 * when a run's start-up is over (at its exit, or while a longer run goes on), then used as it is;
 * a damaged or foreign cache costs a compile, never a wrong or failed run; a directory another
 * user could write, or one in another user's tree, is not used; `off` writes nothing.
 */
import type { Stats } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliOutput, recipeYaml, repoRoot, runCli, spawnCli, workspace } from '../helpers/cli.js';

const version = (JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-compile-cache-');
});
afterEach(() => ws.cleanup());

/** `lsbackup --version` with the cache setting given; XDG_CACHE_HOME points into the workspace so nothing escapes it. */
async function runVersion(cache: string | undefined): Promise<void> {
  const env: Record<string, string> = { XDG_CACHE_HOME: path.join(ws.dir, 'xdg') };
  if (cache !== undefined) env.LSBACKUP_COMPILE_CACHE = cache;
  const r = await runCli(['--version'], { env });
  expect(r.exitCode, cliOutput(r)).toBe(0);
  expect(r.stdout.trim()).toBe(version);
}

async function cacheFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith('compile-'));
}

describe('the compile cache of the built CLI', () => {
  it('is written once, private, under $XDG_CACHE_HOME/lsbackup, then used as it is', async () => {
    const dir = path.join(ws.dir, 'xdg', 'lsbackup');
    await runVersion(undefined);
    const [name] = await cacheFiles(dir);
    expect(name).toMatch(/^compile-[0-9a-f]{16}-other\.bin$/);
    const first = await stat(path.join(dir, name!));
    expect(first.mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(first.size).toBeGreaterThan(100_000);
    await runVersion(undefined);
    // V8 accepted it: a rejected cache is written again (a new file, renamed into place).
    const second = await stat(path.join(dir, name!));
    expect([second.ino, second.mtimeMs]).toEqual([first.ino, first.mtimeMs]);
    expect(await cacheFiles(dir)).toEqual([name]);
  });

  it('a run that goes on past start-up writes it while running, not at its exit', async () => {
    // A long backup's exit comes after dozens of full collections, which drop the start-up's
    // functions from what V8 would cache: written then, the cache saved nothing.
    const dir = path.join(ws.dir, 'cache');
    const release = path.join(ws.dir, 'release');
    const hold = `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: while [ ! -e ${release} ]; do sleep 0.1; done; echo done\n      output: held.txt\n`;
    await ws.write('recipes/held.yaml', recipeYaml('held', hold));
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    const args = ['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'target')];
    const child = spawnCli(args, { env: { LSBACKUP_COMPILE_CACHE: dir } });
    // The run waits for `release`, which comes once the cache is there (a minute at most, far
    // beyond the start-up window even on a loaded machine): a cache written at exit never is.
    let written: string[] = [];
    let whileRunning: Stats | undefined;
    try {
      for (let waited = 0; waited < 60_000 && child.exitCode === null; waited += 100) {
        written = await cacheFiles(dir);
        if (written.length > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(child.exitCode, 'the run ended before it was released').toBeNull();
      expect(written).toHaveLength(1);
      whileRunning = await stat(path.join(dir, written[0]!));
    } finally {
      await writeFile(release, '');
    }
    const r = await child;
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(whileRunning!.size).toBeGreaterThan(100_000);
    // Not written again at its exit, and the next run takes it as it is.
    const atExit = await stat(path.join(dir, written[0]!));
    expect([atExit.ino, atExit.mtimeMs]).toEqual([whileRunning!.ino, whileRunning!.mtimeMs]);
    await runVersion(dir);
    const after = await stat(path.join(dir, written[0]!));
    expect([after.ino, after.mtimeMs]).toEqual([whileRunning!.ino, whileRunning!.mtimeMs]);
  }, 120_000);

  it("each command has its own: a first run of --version does not leave apply with --version's functions", async () => {
    const dir = path.join(ws.dir, 'cache');
    await runVersion(dir);
    await ws.write('recipes/one.yaml', recipeYaml('one', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo ok\n      output: ok.txt\n'));
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'target')], {
      env: { LSBACKUP_COMPILE_CACHE: dir },
    });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    const names = (await cacheFiles(dir)).sort();
    expect(names.map((n) => n.replace(/[0-9a-f]{16}/, 'BUILD'))).toEqual(['compile-BUILD-apply.bin', 'compile-BUILD-other.bin']);
    // apply's holds what apply compiled: more than --version's.
    const [apply, other] = await Promise.all(names.map((n) => stat(path.join(dir, n))));
    expect(apply!.size).toBeGreaterThan(other!.size);
  });

  it('a damaged cache is rejected and replaced; a stale one of another build is removed', async () => {
    const dir = path.join(ws.dir, 'cache');
    await runVersion(dir);
    const [name] = await cacheFiles(dir);
    const garbage = Buffer.alloc(4096, 0x5a);
    await writeFile(path.join(dir, name!), garbage);
    await writeFile(path.join(dir, 'compile-0000000000000000.bin'), garbage);
    await runVersion(dir);
    expect(await cacheFiles(dir)).toEqual([name]);
    const replaced = await readFile(path.join(dir, name!));
    expect(replaced.length).toBeGreaterThan(100_000);
    expect(replaced.equals(garbage.subarray(0, replaced.length))).toBe(false);
  });

  it('off writes nothing; a directory others can write, or one that cannot be made, is not used', async () => {
    await runVersion('off');
    expect(await readdir(ws.dir)).toEqual([]);
    const open = path.join(ws.dir, 'shared');
    await mkdir(open);
    await chmod(open, 0o777);
    await runVersion(open);
    expect(await readdir(open)).toEqual([]);
    await writeFile(path.join(ws.dir, 'a-file'), 'x');
    await runVersion(path.join(ws.dir, 'a-file', 'cache'));
    // `sudo -E`: HOME is another user's, whose tree gets no directory of ours.
    const theirs = path.join(ws.dir, 'home-of-nobody');
    await mkdir(theirs);
    await chown(theirs, 65534, 65534);
    await runVersion(path.join(theirs, '.cache', 'lsbackup'));
    expect(await readdir(theirs)).toEqual([]);
  });
});
