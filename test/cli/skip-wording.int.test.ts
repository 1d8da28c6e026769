/**
 * What an operator reads of a component left out and of a target directory that is not there,
 * through the built CLI. A component left out by --skip was said `skipped (skipped (--skip))`,
 * `Not run: other (skipped (--skip))`, and restore's plan of that backup said `skipped, nothing
 * was backed up (skipped)`; a missing target directory told `schedule` and `run`, which take no
 * -t, to "check the path given with -t".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
const env = () => ({ XDG_CACHE_HOME: path.join(ws.dir, 'cache') });

beforeAll(async () => {
  ws = await workspace('lsb-skip-wording-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  const spec = (name: string) =>
    `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo ${name}\n      output: ${name}.txt\nrestore:\n  apply:\n    - run: cat > /dev/null\n      input: ${name}.txt\n`;
  await ws.write('recipes/app.yaml', recipeYaml('app', spec('app')));
  await ws.write('recipes/other.yaml', recipeYaml('other', spec('other')));
});
afterAll(async () => ws?.cleanup());

describe('a component left out by --skip', () => {
  it('is said once as skipped, with why: in the run, its summary and the plan of a restore of that backup', async () => {
    const target = path.join(ws.dir, 'backups');
    const recipes = path.join(ws.dir, 'recipes');
    const build = path.join(ws.dir, 'build');
    const r = await runCli(['apply', recipes, '-b', build, '-t', target, '--skip', 'other'], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stderr).toContain('- other: skipped, not selected (--skip)\n');
    expect(r.stdout).toContain('Not run: other, not selected (--skip)\n');
    const [archive] = (await readdir(target)).filter((n) => n.endsWith('.tar.gz'));
    const plan = await runCli(['restore', archive!, '-t', target, '-b', build, '--recipes', recipes, '--dry-run'], { env: env() });
    expect(plan.exitCode, cliOutput(plan)).toBe(0);
    expect(plan.stderr + plan.stdout).toContain('- other: skipped, nothing was backed up: not selected (--skip)\n');
    expect(r.stderr + r.stdout + plan.stderr + plan.stdout).not.toMatch(/skipped \(skipped|\(skipped\)/);
  }, 120_000);
});

describe('a target directory that does not exist', () => {
  it('is said without naming -t to a command given none (the config named the target)', async () => {
    const missing = path.join(ws.dir, 'not-mounted');
    const config = await ws.write(
      'missing-target.yaml',
      `apiVersion: lsbackup/v1\nkind: Config\ncluster: c1\nbuild: ./build\nrecipes: [./recipes]\ntargets: [${missing}]\n`,
    );
    const r = await runCli(['list', '-c', config], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toContain(`directory ${missing} does not exist (check the target's path: a typo, or a share not mounted)`);
    expect(r.stderr).not.toContain('-t');
  }, 60_000);
});
