import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../engine/inventory/index.js';
import type { Inventory } from '../../engine/inventory/types.js';
import { loadRecipes } from '../../engine/recipes/index.js';
import type { LoadedRecipe } from '../../engine/recipes/types.js';
import { hostsToContactFirst } from '../../engine/runner/plan.js';

let dir: string;
let inventory: Inventory;
let recipes: LoadedRecipe[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-contact-'));
  await writeFile(
    path.join(dir, 'inventory'),
    ['[postgresql]', 'db1', 'db2', '', '[haproxy]', 'lb1', '', '[loadbalancer]', 'lb1', 'lb2', '', '[other]', 'x1', ''].join('\n'),
  );
  inventory = await loadInventory(path.join(dir, 'inventory'));
  recipes = await loadRecipes([path.join(import.meta.dirname, '../recipes/fixtures/valid')]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const names = (only?: string[], skip?: string[]) => hostsToContactFirst(recipes, inventory, { only, skip }).map((h) => h.name);

describe('hostsToContactFirst (logins started before planning)', () => {
  it('every host of a run-on-all component, only the first of a run-on-first one, each once', () => {
    expect(names().sort()).toEqual(['db1', 'lb1', 'lb2']);
  });

  it('the first host of each group of a run-on-first component with hosts.eachGroup', async () => {
    const recipeDir = path.join(dir, 'each-group');
    await mkdir(recipeDir);
    await writeFile(
      path.join(recipeDir, 'search.yaml'),
      [
        'apiVersion: lsbackup/v1',
        'kind: Recipe',
        'metadata: { name: search, version: 1.0.0 }',
        'spec:',
        '  hosts: { group: [loadbalancer, postgresql], run: first, eachGroup: true }',
        '  backup:',
        '    snapshot: [{ run: "true" }]',
        '',
      ].join('\n'),
    );
    const eachGroup = await loadRecipes([recipeDir]);
    expect(hostsToContactFirst(eachGroup, inventory, {}).map((h) => h.name)).toEqual(['db1', 'lb1']);
  });

  it('none of a component that is not selected or has no hosts', () => {
    expect(names(['haproxy'])).toEqual(['lb1', 'lb2']);
    expect(names(undefined, ['haproxy', 'postgresql'])).toEqual([]);
  });
});
