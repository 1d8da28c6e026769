/**
 * A recipe collecting a path that one host lacks: that host's backup fails (the backup is
 * partial, exit 2) and the archive holds none of its data. Restoring the backup brings back the
 * other hosts; the plan and the run's output (also with -q and --yes, where the plan is not
 * shown) say that the failed host gets nothing and why, in the words metadata.json recorded,
 * not that no backed-up host maps to it. Real CLI, two local hosts, local target.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { archivesIn } from '../helpers/archive.js';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-failed-host-');
});
afterEach(async () => ws.cleanup());

it('a host whose backup failed: the restore says it restores nothing onto it, and why', async () => {
  const conf1 = await ws.write('h1/app.conf', 'one\n');
  const missing = path.join(ws.dir, 'h2', 'app.conf');
  await ws.write('build/inventory', `[app]\nh1 ansible_connection=local app_conf=${conf1}\nh2 ansible_connection=local app_conf=${missing}\n`);
  const recipes = path.dirname(
    await ws.write(
      'recipes/app.yaml',
      recipeYaml(
        'app',
        `hosts: { group: app }
vars: { app_conf: /etc/app.conf }
backup:
  collect:
    - name: configuration
      path: "{{vars.app_conf}}"
restore:
  apply:
    - files: "{{vars.app_conf}}"
`,
      ),
    ),
  );
  const build = path.join(ws.dir, 'build');
  const target = path.join(ws.dir, 'backups');
  const backup = await runCli(['apply', recipes, '-b', build, '-t', target, '-q']);
  expect(backup.exitCode, cliOutput(backup)).toBe(2);
  const [archive] = await archivesIn(target);
  await rm(conf1);

  const why = `its backup failed (collect step 'configuration': exit code 3: lsbackup: no such file or directory: ${missing}), so the backup holds none of its data`;
  const restore = (extra: string[]) => runCli(['restore', path.join(target, archive!), '-b', build, '--recipes', recipes, ...extra]);
  const dry = await restore(['--dry-run']);
  expect(dry.exitCode, cliOutput(dry)).toBe(0);
  expect(dry.stdout).toContain(`    h2: NOTHING restored onto it: ${why}`);
  expect(dry.stdout).not.toContain('no backed-up host of app maps to it');

  const r = await restore(['--yes', '-q']);
  expect(r.exitCode, cliOutput(r)).toBe(0);
  expect(r.stderr).toContain(`app @ h2: nothing restored onto it: ${why}`);
  expect(await readFile(conf1, 'utf8')).toBe('one\n');
}, 120_000);
