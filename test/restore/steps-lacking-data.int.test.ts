/**
 * A backup made by an older lsbackup carries a recipe written when a `files:` step that found
 * nothing under its path restored nothing and succeeded (alertmanager@1.0.0: an optional collect
 * of a config file OR directory, both restored). Such a step fails now unless it says
 * `optional: true`; run as carried it failed after the step before it had put the file back,
 * leaving the host half-restored (the reload after it never ran). The recipe below is that shape;
 * the backup is made by the current CLI, its archive the same as an older one's.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { archivesIn } from '../helpers/archive.js';
import { cliOutput, recipeYaml, runCli, succeeded, workspace } from '../helpers/cli.js';
import { pathExists } from '../infra/index.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-lacking-');
});
afterEach(async () => ws.cleanup());

/** Recipe 'app' on every host of group app: `steps` are its backup and restore sections. */
const appRecipe = (steps: string, version: string) =>
  recipeYaml(
    'app',
    `hosts:
  group: app
  run: all
detect: "true"
${steps}`,
    version,
  );

/** The recipe; `dirStep` is what the directory's files: step says besides its path (`optional: true`, as the current recipes do). */
function configRecipe(data: string, dirStep: string, version: string): string {
  return appRecipe(
    `backup:
  collect:
    - name: configuration
      path: ["${data}/app.conf", "${data}/conf.d"]
      optional: true
restore:
  apply:
    - name: configuration file
      files: ${data}/app.conf
    - name: configuration directory
      files: ${data}/conf.d${dirStep ? `\n      ${dirStep}` : ''}
    - name: reload
      run: touch ${data}/reloaded
`,
    version,
  );
}

/** A backup made with the recipe `recipe(data)` of the file data/app.conf ('conf-v1'), changed after it. */
async function backupMadeWith(recipe: (data: string) => string) {
  const data = path.join(ws.dir, 'data');
  const conf = await ws.write('data/app.conf', 'conf-v1\n');
  await ws.write('build/inventory', '[app]\nh1 ansible_connection=local\n');
  const build = path.join(ws.dir, 'build');
  const recipes = path.dirname(await ws.write('made-with/app.yaml', recipe(data)));
  const target = path.join(ws.dir, 'backups');
  succeeded(await runCli(['apply', recipes, '-b', build, '-t', target]));
  const [archive] = await archivesIn(target);
  await writeFile(conf, 'conf-changed\n');
  const restore = (extra: string[]) => runCli(['restore', path.join(target, archive!), '-b', build, '--yes', ...extra]);
  return { data, conf, recipes, restore };
}

/** A backup of the config file alone (conf.d absent) made with the recipe whose dir step says `dirStep`; the file is changed after it. */
const backupWithoutConfDir = (dirStep: string) => backupMadeWith((data) => configRecipe(data, dirStep, '1.0.0'));

it("refuses before any host is touched a restore whose step would find nothing, saying what to do; the installed recipe's optional step restores", async () => {
  const { data, conf, restore } = await backupWithoutConfDir('');
  const installed = path.dirname(await ws.write('installed/app.yaml', configRecipe(data, 'optional: true', '1.1.0')));

  const carried = await restore(['--trust-carried-recipe', '--recipes', installed]);
  expect(carried.exitCode, cliOutput(carried)).toBe(1);
  expect(carried.stderr).toContain('refused before any host was touched: a step would fail for want of its data');
  expect(carried.stderr).toContain(`app @ h1: step 'configuration directory' puts back '${data}/conf.d', under which the backup holds nothing`);
  expect(carried.stderr).toContain('pass --allow-recipe-upgrade to run the installed recipe instead');
  expect(carried.stderr).toContain('--skip app');
  expect(await readFile(conf, 'utf8')).toBe('conf-changed\n');
  expect(await pathExists(path.join(data, 'reloaded'))).toBe(false);

  const upgraded = await restore(['--allow-recipe-upgrade', '--recipes', installed]);
  expect(upgraded.exitCode, cliOutput(upgraded)).toBe(0);
  expect(upgraded.stderr).toContain('nothing in the backup under it (optional)');
  expect(await readFile(conf, 'utf8')).toBe('conf-v1\n');
  expect(await pathExists(path.join(data, 'reloaded'))).toBe(true);
}, 120_000);

it('a step that says onError: continue may lack its data: the plan says it will fail, and the restore goes on', async () => {
  const { data, conf, recipes, restore } = await backupWithoutConfDir('onError: continue');
  const r = await restore(['--recipes', recipes]);
  expect(r.stderr, cliOutput(r)).toContain('NOTHING in the backup under it: this step will fail and the restore goes on (onError: continue)');
  expect(r.stderr).not.toContain('refused');
  expect(await readFile(conf, 'utf8')).toBe('conf-v1\n');
  expect(await pathExists(path.join(data, 'reloaded'))).toBe(true);
}, 120_000);

/** A recipe saving data/app.conf as one command's output, restored by a step reading the entry `input` names. */
function dumpRecipe(data: string, input: string, version: string): string {
  return appRecipe(
    `backup:
  snapshot:
    - name: dump
      run: cat ${data}/app.conf
      output: app.dump
restore:
  apply:
    - name: load the dump
      input: "${input}"
      run: cat > ${data}/app.conf
`,
    version,
  );
}

it("a recipe that cannot restore its own backup is said to be the fault, with the fix; not 'run the installed recipe', which is the same one", async () => {
  // An input templated per host: validate cannot tell that no output renders to it.
  const { data, conf, recipes: made, restore } = await backupMadeWith((data) => dumpRecipe(data, '{{host.name}}.dump', '1.0.0'));

  const same = await restore(['--recipes', made]);
  expect(same.exitCode, cliOutput(same)).toBe(1);
  expect(same.stderr).toContain("app @ h1: step 'load the dump' reads 'h1.dump', which the backup does not hold");
  expect(same.stderr).toContain(
    "app: the recipe that made the backup cannot restore it: correct its restore steps (one whose data a backup may lack says 'optional: true'), " +
      'then run the corrected recipe with --allow-recipe-upgrade --recipes <its dir>.',
  );
  expect(same.stderr).not.toContain('to run the installed recipe instead');
  expect(await readFile(conf, 'utf8')).toBe('conf-changed\n');

  // The fix it names.
  const corrected = path.dirname(await ws.write('corrected/app.yaml', dumpRecipe(data, 'app.dump', '1.0.1')));
  const fixed = await restore(['--allow-recipe-upgrade', '--recipes', corrected]);
  expect(fixed.exitCode, cliOutput(fixed)).toBe(0);
  expect(await readFile(conf, 'utf8')).toBe('conf-v1\n');
}, 120_000);

it('an installed recipe reading what an older backup does not hold: the refusal names the recipe that made the backup and how to run it', async () => {
  const { data, conf, restore } = await backupMadeWith((data) => dumpRecipe(data, 'app.dump', '1.0.0'));
  // Version 2 of the recipe names its entry otherwise (its backups write app-v2.dump).
  const installed = path.dirname(
    await ws.write('installed/app.yaml', dumpRecipe(data, 'app-v2.dump', '2.0.0').replace('output: app.dump', 'output: app-v2.dump')),
  );

  const refused = await restore(['--recipes', installed]);
  expect(refused.exitCode, cliOutput(refused)).toBe(1);
  expect(refused.stderr).toContain("app @ h1: step 'load the dump' reads 'app-v2.dump', which the backup does not hold");
  expect(refused.stderr).toContain('app: the installed recipe runs in place of app@1.0.0, which made the backup; with --trust-carried-recipe that one runs.');
  expect(await readFile(conf, 'utf8')).toBe('conf-changed\n');

  const carried = await restore(['--recipes', installed, '--trust-carried-recipe']);
  expect(carried.exitCode, cliOutput(carried)).toBe(0);
  expect(await readFile(conf, 'utf8')).toBe('conf-v1\n');
}, 120_000);
