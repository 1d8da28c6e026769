/**
 * A recipe var left empty (`dump:`) is one the run must set. Left unset, the run stops before any
 * host is touched, at the recipe's file:line:col of the template that uses it, saying how to set
 * it; `validate` passes such a recipe (the value comes with the run).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-unset-var-');
});
afterEach(async () => ws.cleanup());

/** The inventory (localhost in group app, with `hostVars`) and an app recipe: `vars`, a pre step leaving a trace, then `dump` (its keys under `dumpStep`). */
const setUp = async (hostVars: string, vars: string, dumpStep: string) => {
  await ws.write('build/inventory', `[app]\nlocalhost ansible_connection=local${hostVars}\n`);
  const trace = path.join(ws.dir, 'pre-ran');
  const recipe = await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app }
${vars}backup:
  pre:
    - run: touch ${trace}
  snapshot:
    - name: dump
${dumpStep}`,
    ),
  );
  return { recipe, trace };
};
const apply = (...extra: string[]) =>
  runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'backups'), '-q', ...extra], {
    env: { LSBACKUP_CONFIG: '', XDG_CONFIG_HOME: ws.dir },
  });

describe('a recipe var the run must set', () => {
  // Line 16 of the file holds `cat {{vars.dump}}`; column 17 is where `vars.dump` starts.
  const setUpUnset = () => setUp('', 'vars: { dump: }\n', '      run: |\n        cat {{vars.dump}}\n      output: dump.txt\n');

  it('unset: exit 78 at file:line:col naming the var and how to set it, before any step runs', async () => {
    const { recipe, trace } = await setUpUnset();
    expect((await runCli(['validate', recipe])).exitCode).toBe(0);
    const r = await apply();
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toContain(`${recipe}:16:17: Recipe 'app' step 'dump' on host 'localhost': 'vars.dump' has no value`);
    expect(r.stderr).toContain('--var <recipe>.dump=<value>');
    expect(existsSync(trace)).toBe(false);
  });

  it('unset, with --json: the error event carries the file, line and column as data', async () => {
    const { recipe } = await setUpUnset();
    const r = await apply('--json');
    expect(r.exitCode, cliOutput(r)).toBe(78);
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ code: 'ETEMPLATE', file: recipe, line: 16, column: 17 });
  });

  it('set with --var: the backup is made', async () => {
    const { trace } = await setUpUnset();
    const dump = await ws.write('dump.sql', 'SELECT 1;\n');
    const r = await apply('--var', `app.dump=${dump}`);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(existsSync(trace)).toBe(true);
  });
});

describe('a value the run gives that a step cannot use', () => {
  it('an output entry name from the inventory that leaves its directory: exit 78 at the output template, before any step runs', async () => {
    const { recipe, trace } = await setUp(' dump_name=../../outside.txt', '', '      run: echo data\n      output: "{{host.vars.dump_name}}"\n');
    const r = await apply();
    // Where the output template's value starts.
    const lines = (await readFile(recipe, 'utf8')).split('\n');
    const line = lines.findIndex((l) => l.includes('output: "{{host.vars.dump_name}}"')) + 1;
    const col = lines[line - 1]!.indexOf('"{{') + 1;
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toContain(
      `${recipe}:${line}:${col}: Recipe 'app' step 'dump' on host 'localhost': entry name '../../outside.txt' must be a relative path without '..'`,
    );
    expect(existsSync(trace)).toBe(false);
  });
});

describe('an inventory variable a template uses that the host does not have', () => {
  it('exit 78 at file:line:col naming the variable, a near name the host has, and the fixes, before any step runs', async () => {
    // The inventory spells it redis_pasword; the recipe redis_password.
    const { recipe, trace } = await setUp(
      ' redis_pasword=s3cret-value',
      '',
      '      run: |\n        echo {{host.vars.redis_password}}\n      output: dump.txt\n',
    );
    const r = await apply();
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toContain(
      `${recipe}:15:18: Recipe 'app' step 'dump' on host 'localhost': 'host.vars.redis_password' is not defined: ` +
        "the inventory gives this host no variable 'redis_password' (did you mean 'redis_pasword'?); set it there, " +
        'or write {{default host.vars.redis_password "<fallback>"}}, or declare it in spec.vars with a default and use {{vars.redis_password}}',
    );
    // A name, never a value.
    expect(r.stderr).not.toContain('s3cret-value');
    expect(existsSync(trace)).toBe(false);
  });
});
