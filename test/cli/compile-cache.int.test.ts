/**
 * The built CLI runs its bundle from a V8 code cache (engine/cli/compile-cache.ts): written once
 * after a run, then used as it is; a damaged or foreign cache costs a compile, never a wrong or
 * failed run; a directory another user could write, or one in another user's tree, is not used;
 * `off` writes nothing.
 */
import { chmod, chown, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliOutput, repoRoot, runCli, workspace } from '../helpers/cli.js';

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
    expect(name).toMatch(/^compile-[0-9a-f]{16}\.bin$/);
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
