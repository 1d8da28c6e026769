/**
 * Full disks on this machine, on real tmpfs mounts: the spool directory (TMPDIR, where a
 * command's output of unknown length waits for its turn in the archive) and the target
 * directory that holds the run's lock. Each run must end at once with a clear message, keep
 * nothing under a final name and leave nothing that holds off the next run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
const mounted: string[] = [];
let env: Record<string, string>;
let recipes: string;
let build: string;

beforeAll(async () => {
  ws = await workspace('lsb-full-disks-');
  env = { XDG_CACHE_HOME: path.join(ws.dir, 'cache') };
  build = path.join(ws.dir, 'build');
  recipes = path.join(ws.dir, 'recipes');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app }
detect: "true"
backup:
  snapshot:
    - run: head -c 3000000 /dev/urandom
      output: dump.bin
  post:
    - run: touch ${ws.dir}/post-ran
`,
    ),
  );
});
afterAll(async () => {
  for (const dir of mounted) await execa('umount', [dir], { reject: false });
  await ws?.cleanup();
});

/** A real full filesystem needs a tmpfs mount (root / CAP_SYS_ADMIN): without it the test fails, it does not skip. */
async function mountTmpfs(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const r = await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'lsb-full', dir], { reject: false });
  if (r.exitCode !== 0) throw new Error(`this test needs to mount a tmpfs (root or CAP_SYS_ADMIN) and could not: ${r.stderr || r.exitCode}`);
  mounted.push(dir);
}

/** Fills `dir` to the last byte; returns the filler file. */
async function fill(dir: string): Promise<string> {
  const filler = path.join(dir, 'filler');
  await execa('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { reject: false });
  return filler;
}

describe('a full disk', () => {
  it('under the spool directory: the step fails at once saying so (was: the command blocked until its step timeout)', { timeout: 180_000 }, async () => {
    const tmp = path.join(ws.dir, 'tmp');
    await mountTmpfs(tmp, '1m');
    const target = path.join(ws.dir, 'backups');
    // The default step timeout is an hour: a command left blocked on its pipe outlives this run's limit.
    const r = await runCli(['apply', recipes, '-b', build, '-t', target], { env: { ...env, TMPDIR: tmp }, timeoutMs: 90_000 });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/dump\.bin: .*ENOSPC/);
    expect((await readdir(ws.dir)).includes('post-ran')).toBe(true);
    expect((await readdir(target).catch(() => [])).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('at the target, where its lock is written: a clear error, and no ownerless lock file holds off the next run', { timeout: 180_000 }, async () => {
    const target = path.join(ws.dir, 'full-target');
    await mountTmpfs(target, '64k');
    const filler = await fill(target);
    const r = await runCli(['apply', recipes, '-b', build, '-t', target], { env });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.stderr).toMatch(/Cannot take the lock of target .*\.lsbackup\.lock.*ENOSPC/);
    expect(await readdir(target)).toEqual(['filler']);

    // Room again: the next run starts at once, with no lock to wait for or take over.
    await rm(filler);
    await execa('mount', ['-o', 'remount,size=8m', target]);
    const next = await runCli(['apply', recipes, '-b', build, '-t', target, '--lock-wait', '0'], { env });
    expect(next.exitCode, cliOutput(next)).toBe(0);
    expect(next.stdout + next.stderr).not.toMatch(/lock/i);
  });

  it(
    "in the host's temporary directory while an incremental collect lists its files: the step fails naming the stage (was: a backup holding not one of the files, and success)",
    { timeout: 180_000 },
    async () => {
      const data = path.join(ws.dir, 'many-files');
      await mkdir(data);
      for (let i = 0; i < 3000; i++) await writeFile(path.join(data, `a-file-with-a-rather-long-name-${i}.txt`), `${i}\n`);
      await ws.write('files-recipes/files.yaml', recipeYaml('files', `hosts: { group: app }\ndetect: "true"\nbackup:\n  collect:\n    - path: ${data}\n`));
      // Room for find's listing of the files (one line each, as the host writes it) and little
      // more: what the later stages write (sorted manifest, names to send) does not fit.
      const listing = await execa('sh', ['-c', `find '${data}' -printf '%y %T@_%s_%m_%U_%G_%i_%C@ %T@ %s %m %U %G %i %C@ %p\\0' | wc -c`]);
      const tmp = path.join(ws.dir, 'host-tmp');
      await mountTmpfs(tmp, `${Math.ceil((Number(listing.stdout) * 1.6) / 4096) * 4 + 64}k`);
      const target = path.join(ws.dir, 'files-backups');
      const r = await runCli(['apply', path.join(ws.dir, 'files-recipes'), '-b', build, '-t', target, '--full'], { env: { ...env, TMPDIR: tmp } });
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/lsbackup: [a-z ]+ failed on this host \(is there space left in /);
      expect((await readdir(target).catch(() => [])).filter((n) => !n.startsWith('.'))).toEqual([]);
      expect(await readdir(tmp)).toEqual([]);

      // With room, the same backup holds every file.
      const ok = await runCli(['apply', path.join(ws.dir, 'files-recipes'), '-b', build, '-t', target, '--full'], { env });
      expect(ok.exitCode, cliOutput(ok)).toBe(0);
      const stored = (await readdir(target)).find((n) => n.endsWith('.tar.gz'))!;
      const names = await execa('tar', ['-tzf', path.join(target, stored)]);
      expect(names.stdout.split('\n').filter((n) => n.includes('a-file-with')).length).toBe(3000);
    },
  );
});
