/**
 * Host names that map to one archive directory (issue 12 item 9): `a/b` and `a_b` both became
 * `<component>/a_b/`, so the archive held duplicate entries that restore refused. The
 * inventory is refused before anything runs, naming both hosts.
 */
import { afterEach, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { cliOutput, localCluster, type LocalCluster } from './support.js';
import { runCli } from '../helpers/cli.js';

let c: LocalCluster;
afterEach(async () => c.cleanup());

it('refuses two hosts whose names share an archive directory, before running anything', async () => {
  c = await localCluster('[app]\na/b ansible_connection=local\na_b ansible_connection=local\n');
  await c.write('data/f.txt', 'x\n');
  await c.recipe('app', `hosts: { group: app }\nbackup:\n  pre:\n    - run: touch ${c.data}/ran-{{host.name}}\n  collect:\n    - path: ${c.data}/f.txt\n`);
  for (const command of [
    ['apply', c.recipes, '-b', c.build, '-t', c.target],
    ['plan', c.recipes, '-b', c.build],
  ]) {
    const r = await runCli(command);
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toContain(`${c.build}/inventory: hosts 'a/b' and 'a_b' would share one directory in the archive`);
  }
  expect(await readdir(c.target).catch(() => [])).toEqual([]);
  expect((await readdir(c.data)).filter((n) => n.startsWith('ran-'))).toEqual([]);
});
