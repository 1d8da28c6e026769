/**
 * A step timeout longer than a Node.js timer can wait (2^31-1 ms) overflowed: every step
 * "timed out after 0 s". It is refused where it is given (recipe, config, --step-timeout),
 * and the longest allowed one runs steps normally. Built CLI, local host, local target.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { MAX_STEP_TIMEOUT_SEC } from '../../engine/runner/step-timeout.js';

let ws: Awaited<ReturnType<typeof workspace>>;

beforeEach(async () => {
  ws = await workspace('lsb-timeout-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => ws.cleanup());

const recipe = (timeout: number) =>
  recipeYaml(
    'app',
    `hosts: { group: app, run: all }
backup:
  snapshot:
    - run: echo dumped
      output: dump.txt
      timeout: ${timeout}
`,
  );
const output = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;

describe('step timeouts a Node.js timer cannot hold', () => {
  it('is the longest whole number of seconds under 2^31 ms', () => {
    expect(MAX_STEP_TIMEOUT_SEC * 1000).toBeLessThan(2 ** 31);
    expect((MAX_STEP_TIMEOUT_SEC + 1) * 1000).toBeGreaterThanOrEqual(2 ** 31);
  });

  it('a recipe step timeout over the limit is refused at its line and column', async () => {
    const file = await ws.write('recipes/app.yaml', recipe(MAX_STEP_TIMEOUT_SEC + 1));
    const r = await runCli(['validate', file]);
    expect(r.exitCode).toBe(78);
    expect(output(r)).toMatch(new RegExp(`app\\.yaml:\\d+:\\d+.*timeout.*${MAX_STEP_TIMEOUT_SEC}`));
  });

  it('the config stepTimeout over the limit is refused at its line and column', async () => {
    await ws.write('recipes/app.yaml', recipe(5));
    const config = await ws.write(
      'lsbackup.config.yaml',
      `apiVersion: lsbackup/v1\nkind: Config\nbuild: ./build\ntargets:\n  - ./backups\nstepTimeout: ${MAX_STEP_TIMEOUT_SEC + 1}\n`,
    );
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '--config', config]);
    expect(r.exitCode).toBe(78);
    expect(output(r)).toMatch(new RegExp(`lsbackup\\.config\\.yaml:6:\\d+.*stepTimeout.*${MAX_STEP_TIMEOUT_SEC}`));
  });

  it('--step-timeout over the limit is a usage error naming the range', async () => {
    await ws.write(
      'recipes/app.yaml',
      recipeYaml('app', 'hosts: { group: app, run: all }\nbackup:\n  snapshot:\n    - run: echo dumped\n      output: dump.txt\n'),
    );
    const args = ['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'backups')];
    const r = await runCli([...args, '--step-timeout', String(MAX_STEP_TIMEOUT_SEC + 1)]);
    expect(r.exitCode).toBe(64);
    expect(output(r)).toContain(`--step-timeout`);
    expect(output(r)).toContain(`from 1 to ${MAX_STEP_TIMEOUT_SEC}`);
    // The longest allowed timeout does not fire at once: the step runs and the backup succeeds.
    const ok = await runCli([...args, '--step-timeout', String(MAX_STEP_TIMEOUT_SEC)]);
    expect(ok.exitCode, output(ok)).toBe(0);
  });

  it('the longest recipe step timeout runs the step normally', async () => {
    await ws.write('recipes/app.yaml', recipe(MAX_STEP_TIMEOUT_SEC));
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'backups')]);
    expect(r.exitCode, output(r)).toBe(0);
  });
});
