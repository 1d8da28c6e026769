/**
 * A secret that cannot be resolved fails only the components that use it: the others are backed
 * up (exit 2), and `plan` shows which component needs which secret instead of refusing to plan.
 * `{{secret "X" optional=true}}` is empty when no source has it, and fails nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, summaryRows, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
const env = { LSB_TEST_SET: 'present-value' };

beforeAll(async () => {
  ws = await workspace('lsb-missing-secret-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/needs.yaml',
    recipeYaml('needs', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo {{secret "LSB_TEST_UNSET"}}\n      output: x.txt\n'),
  );
  await ws.write(
    'recipes/has.yaml',
    recipeYaml('has', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: printf %s {{secret "LSB_TEST_SET"}} | wc -c\n      output: x.txt\n'),
  );
  // The same unset secret, optional here: the step sees it empty; and a set one keeps its value.
  await ws.write(
    'recipes/opt.yaml',
    recipeYaml(
      'opt',
      'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: printf \'[%s][%s]\' {{secret "LSB_TEST_UNSET" optional=true}} {{secret "LSB_TEST_SET" optional=true}} | sed s/present-value/SET/\n      output: x.txt\n',
    ),
  );
  await ws.write('recipes/plain.yaml', recipeYaml('plain', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo plain\n      output: x.txt\n'));
});
afterAll(() => ws.cleanup());

it('apply: the component using the missing secret fails naming it, the others are backed up (exit 2)', async () => {
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'out')], { env });
  expect(r.exitCode, cliOutput(r)).toBe(2);
  const rows = summaryRows(r.stdout);
  expect(rows).toContainEqual(['needs', 'localhost', 'failed', '0 B', expect.any(String), expect.stringMatching(/^needs secret LSB_TEST_UNSET: /)]);
  expect(
    rows
      .filter((row) => row[2] === 'success')
      .map((row) => row[0])
      .sort(),
  ).toEqual(['has', 'opt', 'plain']);
  expect(r.stdout + r.stderr).not.toContain('present-value');
});

it('an optional secret that no source has is empty and fails nothing; a set one is its value', async () => {
  const r = await runCli(
    ['apply', path.join(ws.dir, 'recipes'), '--only', 'opt', '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'opt-out'), '-f', 'zip'],
    { env },
  );
  expect(r.exitCode, cliOutput(r)).toBe(0);
  const archive = (await readdir(path.join(ws.dir, 'opt-out'))).find((n) => n.endsWith('.zip'))!;
  const contents = execFileSync('unzip', ['-p', path.join(ws.dir, 'opt-out', archive)], { encoding: 'latin1' });
  expect(contents).toContain('[][SET]');
});

it('an optional secret with a value that is not true or false is a recipe error naming the fix', async () => {
  await ws.write(
    'bad/bad.yaml',
    recipeYaml('bad', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo {{secret "X" optional="yes"}}\n      output: x.txt\n'),
  );
  const r = await runCli(['validate', path.join(ws.dir, 'bad')]);
  expect(r.exitCode, cliOutput(r)).toBe(78);
  expect(r.stderr + r.stdout).toMatch(/bad\.yaml:\d+:\d+.*secret takes exactly one quoted name, and optionally optional=true/s);
});

it('plan: lists every component, the one lacking a secret as FAILS with the secret named; exit 0', async () => {
  const r = await runCli(['plan', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build')], { env });
  expect(r.exitCode, cliOutput(r)).toBe(0);
  expect(r.stdout).toMatch(/needs \(recipe 1\.0\.0, .*\): FAILS on localhost: needs secret LSB_TEST_UNSET: /);
  expect(r.stdout).toMatch(/plain \(recipe 1\.0\.0, .*\): runs on all hosts/);
  expect(r.stdout).toMatch(/opt \(recipe 1\.0\.0, .*\): runs on all hosts/);
  expect(r.stdout).toMatch(/has \(recipe 1\.0\.0, .*\): runs on all hosts/);
});

it('a missing secret whose only use is in a step whose when is false fails nothing; with the step on, the component fails naming it', async () => {
  await ws.write(
    'gated/gated.yaml',
    recipeYaml(
      'gated',
      'hosts: { group: app }\nvars: { gated_use_password: "no" }\nbackup:\n  snapshot:\n    - run: echo ok\n      output: ok.txt\n    - run: echo {{secret "LSB_TEST_UNSET"}}\n      output: pw.txt\n      when: "{{vars.gated_use_password}}"\n',
    ),
  );
  const args = ['apply', path.join(ws.dir, 'gated'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'out-gated')];
  const off = await runCli(args, { env });
  expect(off.exitCode, cliOutput(off)).toBe(0);
  expect(summaryRows(off.stdout)).toContainEqual(['gated', 'localhost', 'success', expect.any(String), expect.any(String)]);
  const on = await runCli([...args, '--var', 'gated.gated_use_password=yes'], { env });
  expect(on.exitCode, cliOutput(on)).toBe(1); // its only component failed: nothing usable
  expect(summaryRows(on.stdout)).toContainEqual([
    'gated',
    'localhost',
    'failed',
    '0 B',
    expect.any(String),
    expect.stringMatching(/^needs secret LSB_TEST_UNSET: /),
  ]);
});
