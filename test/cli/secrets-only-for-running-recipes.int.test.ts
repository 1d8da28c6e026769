/**
 * A recipe that will not run (no hosts in its groups, or left out with --only/--skip) must not
 * demand its secrets: the bundled grafana recipe needs GRAFANA_ADMIN_PASSWORD only on a
 * cluster that has Grafana hosts.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import path from 'node:path';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace();
  await ws.write(
    'recipes/needs-secret.yaml',
    recipeYaml(
      'needs-secret',
      `hosts: { group: vault }
backup:
  snapshot:
    - run: echo "$TOKEN" | wc -c
      output: len.txt
      env: { TOKEN: '{{secret "LSB_TEST_UNSET_TOKEN"}}' }
`,
    ),
  );
  await ws.write(
    'recipes/plain.yaml',
    recipeYaml(
      'plain',
      `hosts: { group: app }
backup:
  snapshot:
    - run: echo ok
      output: ok.txt
`,
    ),
  );
});
afterEach(async () => ws.cleanup());

const apply = (...extra: string[]) =>
  runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'backups'), ...extra]);

it('does not resolve the secrets of a recipe whose groups have no hosts', async () => {
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  const r = await apply();
  expect(r.stderr).not.toMatch(/LSB_TEST_UNSET_TOKEN/);
  expect(r.exitCode).toBe(0);
});

it('does not resolve the secrets of a recipe left out with --skip, and still does for one that runs', async () => {
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n[vault]\nlocalhost\n');
  expect((await apply('--skip', 'needs-secret')).exitCode).toBe(0);
  const r = await apply();
  // It runs, so its secret is needed: that component fails naming it (the others still run).
  expect(r.exitCode).not.toBe(0);
  expect(r.stdout + r.stderr).toMatch(/needs-secret .*needs secret LSB_TEST_UNSET_TOKEN: /);
});
