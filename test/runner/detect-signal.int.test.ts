/**
 * A detect command killed by a signal gives no answer: the host fails (visibly) instead of
 * being skipped as "not detected", which would leave the component out with exit 0.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import path from 'node:path';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => ws.cleanup());

it('fails the host when detect is killed by a signal, and a plain "no" too (the inventory says it is there)', async () => {
  await ws.write(
    'recipes/killed.yaml',
    recipeYaml('killed', `hosts: { group: app }\ndetect: kill -TERM $$\nbackup:\n  snapshot:\n    - run: echo x\n      output: x.txt\n`),
  );
  await ws.write(
    'recipes/absent.yaml',
    recipeYaml('absent', `hosts: { group: app }\ndetect: "false"\nbackup:\n  snapshot:\n    - run: echo x\n      output: x.txt\n`),
  );
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'out')]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(1);
  expect(r.stderr).toMatch(/killed @ localhost: failed .*detect: killed by SIGTERM/);
  expect(r.stderr).toMatch(/absent @ localhost: failed .*not installed, but the inventory puts it here: detect `false` exited 1/);
});
