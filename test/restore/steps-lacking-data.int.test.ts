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

/** The recipe; `optionalDir` marks the directory's files: step as the current recipes do. */
function configRecipe(data: string, optionalDir: boolean, version: string): string {
  return recipeYaml(
    'app',
    `hosts:
  group: app
  run: all
detect: "true"
backup:
  collect:
    - name: configuration
      path: ["${data}/app.conf", "${data}/conf.d"]
      optional: true
restore:
  apply:
    - name: configuration file
      files: ${data}/app.conf
    - name: configuration directory
      files: ${data}/conf.d${optionalDir ? '\n      optional: true' : ''}
    - name: reload
      run: touch ${data}/reloaded
`,
    version,
  );
}

it("refuses before any host is touched a restore whose step would find nothing, saying what to do; the installed recipe's optional step restores", async () => {
  const data = path.join(ws.dir, 'data');
  const conf = await ws.write('data/app.conf', 'conf-v1\n');
  await ws.write('build/inventory', '[app]\nh1 ansible_connection=local\n');
  const build = path.join(ws.dir, 'build');
  const oldRecipes = path.dirname(await ws.write('old/app.yaml', configRecipe(data, false, '1.0.0')));
  const installed = path.dirname(await ws.write('installed/app.yaml', configRecipe(data, true, '1.1.0')));
  const target = path.join(ws.dir, 'backups');
  succeeded(await runCli(['apply', oldRecipes, '-b', build, '-t', target]));
  const [archive] = await archivesIn(target);
  await writeFile(conf, 'conf-changed\n');

  const carried = await runCli(['restore', path.join(target, archive!), '-b', build, '--yes', '--trust-carried-recipe', '--recipes', installed]);
  expect(carried.exitCode, cliOutput(carried)).toBe(1);
  expect(carried.stderr).toContain('refused before any host was touched: a step would fail for want of its data');
  expect(carried.stderr).toContain(`app @ h1: step 'configuration directory' puts back '${data}/conf.d', under which the backup holds nothing`);
  expect(carried.stderr).toContain('pass --allow-recipe-upgrade to run the installed recipe instead');
  expect(carried.stderr).toContain('--skip app');
  expect(await readFile(conf, 'utf8')).toBe('conf-changed\n');
  expect(await pathExists(path.join(data, 'reloaded'))).toBe(false);

  const upgraded = await runCli(['restore', path.join(target, archive!), '-b', build, '--yes', '--allow-recipe-upgrade', '--recipes', installed]);
  expect(upgraded.exitCode, cliOutput(upgraded)).toBe(0);
  expect(upgraded.stderr).toContain('nothing in the backup under it (optional)');
  expect(await readFile(conf, 'utf8')).toBe('conf-v1\n');
  expect(await pathExists(path.join(data, 'reloaded'))).toBe(true);
}, 120_000);
