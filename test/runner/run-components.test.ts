/**
 * `run.components` in templates: the components this run backs up (after --only/--skip, and only
 * those with hosts in the inventory), so a recipe can leave to another what that one does (the
 * zookeeper recipe's restore leaves the Kafka brokers to kafka's; test/components/kafka.int.test.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../engine/inventory/index.js';
import { loadRecipes } from '../../engine/recipes/index.js';
import type { LoadedRecipe } from '../../engine/recipes/types.js';
import { planRun, type PlanOptions } from '../../engine/runner/plan.js';

let dir: string;
let recipes: LoadedRecipe[];

const recipe = (name: string, group: string, run: string) =>
  [
    'apiVersion: lsbackup/v1',
    'kind: Recipe',
    `metadata: { name: ${name}, version: 1.0.0 }`,
    'spec:',
    `  hosts: { group: ${group} }`,
    '  backup:',
    `    snapshot: [{ run: '${run}' }]`,
    '',
  ].join('\n');

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-run-components-'));
  await writeFile(path.join(dir, 'zookeeper.yaml'), recipe('zookeeper', 'zookeeper', 'echo {{#if run.components.kafka}}with-kafka{{else}}alone{{/if}}'));
  await writeFile(path.join(dir, 'kafka.yaml'), recipe('kafka', 'kafka', 'echo kafka'));
  recipes = await loadRecipes([dir]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function zookeeperCommand(inventoryText: string, selection: Pick<PlanOptions, 'only' | 'skip'> = {}): Promise<string | undefined> {
  const file = path.join(dir, `inventory-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, inventoryText);
  const plan = planRun(recipes, await loadInventory(file), {
    operation: 'backup',
    backupId: 'b',
    cluster: 'c',
    startedAt: new Date(0),
    secrets: new Map(),
    defaultStepTimeoutSec: 60,
    ...selection,
  });
  return plan.components.find((c) => c.name === 'zookeeper')?.hosts[0]?.steps.find((s) => s.phase === 'snapshot')?.command;
}

describe('run.components', () => {
  const both = '[zookeeper]\nh1\n[kafka]\nh1\n';
  it('is true for each component the run backs up', async () => {
    expect(await zookeeperCommand(both)).toContain('with-kafka');
  });
  it('leaves out a component --only or --skip leaves out, and one with no hosts in the inventory', async () => {
    expect(await zookeeperCommand(both, { only: ['zookeeper'] })).toContain('alone');
    expect(await zookeeperCommand(both, { skip: ['kafka'] })).toContain('alone');
    expect(await zookeeperCommand('[zookeeper]\nh1\n')).toContain('alone');
  });
});
