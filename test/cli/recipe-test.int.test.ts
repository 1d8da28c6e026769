/**
 * `lsbackup recipe test` through the built CLI against a trivial local component (a data
 * directory on this host, ansible_connection=local): the stages in order, the first failure
 * stopping the run with exit 3, a recipe without spec.tests refused (78), the temporary target
 * removed unless --keep.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { expectRoundTrip, recipeTest } from '../helpers/recipe-test.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[cache]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => ws.cleanup());

/** A recipe backing up one directory, with tests whose check is `check`. */
const cacheRecipe = (data: string, check = 'grep -qx hello {{vars.dir}}/k') =>
  recipeYaml(
    'cache',
    `  hosts:
    group: cache
  vars:
    dir: ${data}
  backup:
    collect:
      - path: "{{vars.dir}}"
  restore:
    apply:
      - files: "{{vars.dir}}"
  tests:
    seed:
      - run: mkdir -p {{vars.dir}} && echo hello > {{vars.dir}}/k
    destroy:
      - run: rm {{vars.dir}}/k
    check:
      - run: ${check}
`,
  );

const recipeTestDirs = async () => (await readdir(os.tmpdir())).filter((n) => n.startsWith('lsbackup-recipe-test-'));

describe('lsbackup recipe test', () => {
  it('runs validate, seed, apply, verify, destroy, restore, check and exits 0 when the data came back', async () => {
    const data = path.join(ws.dir, 'data');
    const recipe = await ws.write('cache.yaml', cacheRecipe(data));
    const run = await expectRoundTrip(recipe, ['-b', path.join(ws.dir, 'build')]);
    // The steps ran as recipe steps (step events with their stage as the phase) on the host.
    const phases = run.events.filter((e) => e.type === 'step.end').map((e) => `${e.phase}:${e.status}`);
    expect(phases).toEqual(['seed:success', 'collect:success', 'destroy:success', 'apply:success', 'check:success']);
    expect(await readFile(path.join(data, 'k'), 'utf8')).toBe('hello\n');
  });

  it('stops at the first failing stage with exit 3 and says which stage and step failed', async () => {
    const recipe = await ws.write('cache.yaml', cacheRecipe(path.join(ws.dir, 'data'), 'grep -qx goodbye {{vars.dir}}/k'));
    const before = await recipeTestDirs();
    const run = await recipeTest(recipe, ['-b', path.join(ws.dir, 'build')]);
    expect(run.exitCode, cliOutput(run)).toBe(3);
    expect(run.stages.map((s) => `${s.stage}:${s.status}`)).toEqual([
      'validate:success',
      'seed:success',
      'apply:success',
      'verify:success',
      'destroy:success',
      'restore:success',
      'check:failed',
    ]);
    expect(run.stages.at(-1)!.error).toMatch(/check step 'check\[0\] grep -qx goodbye .*': exit code 1/);
    // The temporary target went away with the run.
    expect((await recipeTestDirs()).filter((d) => !before.includes(d))).toEqual([]);

    // Plain output: the stage lines on stderr, the verdict on stdout.
    const plain = await runCli(['recipe', 'test', recipe, '-b', path.join(ws.dir, 'build')]);
    expect(plain.exitCode, cliOutput(plain)).toBe(3);
    expect(plain.stderr).toContain('== cache: check FAILED');
    expect(plain.stdout).toMatch(/^recipe test cache: FAILED at check: check step /m);
  });

  it('stops before touching the host when seeding fails, and keeps the target with --keep', async () => {
    // seed writes into a directory that cannot be created: nothing is backed up or restored.
    const recipe = await ws.write('cache.yaml', cacheRecipe('/proc/lsbackup-no-such-dir'));
    const run = await recipeTest(recipe, ['-b', path.join(ws.dir, 'build'), '--keep']);
    expect(run.exitCode, cliOutput(run)).toBe(3);
    expect(run.stages.map((s) => `${s.stage}:${s.status}`)).toEqual(['validate:success', 'seed:failed']);
    expect(run.events.some((e) => e.type === 'run.start')).toBe(false);
    const kept = await runCli(['recipe', 'test', recipe, '-b', path.join(ws.dir, 'build'), '--keep']);
    const where = /the test backup is in (\S+)/.exec(kept.stdout)?.[1];
    expect(where, cliOutput(kept)).toBeDefined();
    expect(await readdir(where!)).toBeDefined();
    await rm(where!, { recursive: true, force: true });
  });

  it('refuses a recipe without spec.tests (exit 78) naming the file and the fix', async () => {
    const recipe = await ws.write('plain.yaml', recipeYaml('plain', '  hosts:\n    group: cache\n  backup:\n    collect:\n      - path: /etc/hostname\n'));
    const run = await runCli(['recipe', 'test', recipe, '-b', path.join(ws.dir, 'build')]);
    expect(run.exitCode, cliOutput(run)).toBe(78);
    expect(run.stdout).toContain('FAILED at validate');
    expect(run.stdout).toContain(`${recipe}: has no spec.tests section`);
    expect(run.stdout).toContain('add spec.tests with seed, destroy and check steps');
  });
});
