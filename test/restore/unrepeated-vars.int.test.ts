/**
 * A backup made with a recipe var set on the command line (`--var app.data_dir=...`) and restored
 * without it: the restore step reads the var, so it would write the recipe's default place, not
 * the one backed up. The backup records the names of the vars it set (not their values); restore
 * warns of each one its restore steps read that it does not set, before any host is touched
 * (--dry-run, -q, --json). A var only the backup reads, or one set again, says nothing.
 * Real CLI, a local host, a local target.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { archivesIn } from '../helpers/archive.js';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-unrepeated-vars-');
});
afterEach(async () => ws.cleanup());

it('restore without a --var the backup set and its restore step reads: warned before any host is touched, naming the var and the fix', async () => {
  const data = path.join(ws.dir, 'data');
  const fallback = path.join(ws.dir, 'default');
  await mkdir(data);
  await mkdir(fallback);
  await writeFile(path.join(data, 'app.conf'), 'backed-up\n');
  await ws.write('build/inventory', '[app]\nh1 ansible_connection=local\n');
  const recipes = path.dirname(
    await ws.write(
      'recipes/app.yaml',
      recipeYaml(
        'app',
        `hosts: { group: app }
vars: { data_dir: "${fallback}", label: none }
backup:
  snapshot:
    - name: dump
      run: echo {{vars.label}} >&2; cat {{vars.data_dir}}/app.conf
      output: app.dump
restore:
  apply:
    - name: load the dump
      input: app.dump
      run: cat > {{vars.data_dir}}/app.conf
`,
      ),
    ),
  );
  const build = path.join(ws.dir, 'build');
  const target = path.join(ws.dir, 'backups');
  const backup = await runCli(['apply', recipes, '-b', build, '-t', target, '-q', '--var', `app.data_dir=${data}`, '--var', 'app.label=secret-ish']);
  expect(backup.exitCode, cliOutput(backup)).toBe(0);
  const [archive] = await archivesIn(target);
  const sidecar = JSON.parse(await readFile(path.join(target, `${archive}.metadata.json`), 'utf8'));
  // Names only: a value set with --var may be a secret.
  expect(sidecar.components[0].varOverrides).toEqual(['data_dir', 'label']);
  expect(JSON.stringify(sidecar)).not.toContain('secret-ish');

  const restore = (extra: string[]) => runCli(['restore', path.join(target, archive!), '-b', build, '--recipes', recipes, ...extra]);
  const warning =
    "the backup was made with app.data_dir set (--var or the config's components.vars), which its restore steps read and this restore does not set: " +
    "they use the recipe's default. Pass --var app.data_dir=<value> to restore where it was backed up from";
  const dry = await restore(['--dry-run']);
  expect(dry.exitCode, cliOutput(dry)).toBe(0);
  expect(dry.stderr).toContain(warning);
  // label is read only by the backup: nothing to say of it.
  expect(cliOutput(dry)).not.toContain('app.label');

  const json = await restore(['--dry-run', '--json']);
  const events = json.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  expect(events).toContainEqual(expect.objectContaining({ type: 'warning', component: 'app', message: warning }));

  // Set again (to any value the operator means): nothing said, and the data goes there.
  await writeFile(path.join(data, 'app.conf'), 'changed\n');
  const repeated = await restore(['--yes', '-q', '--var', `app.data_dir=${data}`]);
  expect(repeated.exitCode, cliOutput(repeated)).toBe(0);
  expect(cliOutput(repeated)).not.toContain('the backup was made with');
  expect(await readFile(path.join(data, 'app.conf'), 'utf8')).toBe('backed-up\n');
}, 120_000);
