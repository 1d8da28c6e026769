/**
 * `spec.restore.after` through the built CLI on the local host (ansible_connection=local), with
 * real commands: a component waits for the restores it names; when one of them fails it is not
 * restored at all, and a loop of `after` is refused instead of waiting forever. (That the order
 * itself holds is shown with real services in test/components/kafka.int.test.ts: ZooKeeper restored
 * before any broker is stopped.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import { pathExists } from '../infra/servers/common.js';

let cluster: Cluster;
const marker = (name: string) => path.join(cluster.dir, `${name}.restored`);

/** A recipe whose restore runs `restoreCommand`, then leaves a marker file. */
const recipe = (name: string, after: string[], restoreCommand = 'true') => `hosts: { group: app, run: first }
backup:
  snapshot:
    - run: echo ${name}
      output: ${name}.txt
restore:
  after: [${after.join(', ')}]
  apply:
    - run: ${restoreCommand} && touch ${marker(name)}
`;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
}, 60_000);
afterAll(async () => cluster?.cleanup());

async function backupAndRestore(recipes: Record<string, string>) {
  await rm(cluster.recipes, { recursive: true, force: true });
  await mkdir(cluster.recipes);
  for (const [name, spec] of Object.entries(recipes)) await cluster.writeRecipe(name, spec);
  const archive = await cluster.backup(cluster.recipes);
  return cluster.restore(archive, ['--recipes', cluster.recipes]);
}

it('does not restore a component after one whose restore failed, and says why', async () => {
  const r = await backupAndRestore({ base: recipe('base', [], 'exit 3'), app: recipe('app', ['base']) });
  expect(r.exitCode, cliOutput(r)).toBe(1);
  expect(cliOutput(r)).toMatch(/not restored: it restores after base \(failed\)/);
  expect(r.stderr).toMatch(/- app with recipe app@1\.0\.0, after base/); // the plan says so
  expect(await pathExists(marker('app'))).toBe(false);
}, 120_000);

it('refuses a loop of restore.after instead of waiting forever', async () => {
  const r = await backupAndRestore({ one: recipe('one', ['two']), two: recipe('two', ['one']) });
  expect(r.exitCode, cliOutput(r)).toBe(1);
  expect(cliOutput(r)).toMatch(/restore\.after makes a loop: (one after two after one|two after one after two)/);
  expect(await pathExists(marker('one'))).toBe(false);
  expect(await pathExists(marker('two'))).toBe(false);
}, 120_000);
