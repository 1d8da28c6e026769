/**
 * A backup run checks each target once: the app layer does it before taking the target's lock
 * (engine/app/locks.ts), and runBackup no longer repeats it. Real local target, real recipe and
 * local inventory; the target is wrapped only to count its check() calls (the real check runs).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { withRunLocks } from '../../engine/app/locks.js';
import { runExecutorFactory } from '../../engine/app/executors.js';
import { loadInventory } from '../../engine/inventory/index.js';
import { loadRecipes } from '../../engine/recipes/index.js';
import { createReporter } from '../../engine/report/reporters.js';
import { runBackup } from '../../engine/runner/backup.js';
import { createRedactor } from '../../engine/secrets/redactor.js';
import { createLocalTarget } from '../../targets/local.js';
import type { Target } from '../../targets/types.js';
import { recipeYaml, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
const savedCache = process.env.XDG_CACHE_HOME;

beforeEach(async () => {
  ws = await workspace();
  // Locks in the workspace: nothing shared with other tests or runs on this machine.
  process.env.XDG_CACHE_HOME = path.join(ws.dir, 'cache');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hello\n      output: hello.txt\n`));
});
afterEach(async () => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  await ws.cleanup();
});

describe('target checks', () => {
  it('a backup run checks each target once, before its lock', async () => {
    const real = createLocalTarget(path.join(ws.dir, 'backups'));
    let checks = 0;
    const target: Target = { ...real, check: () => (checks++, real.check()) };
    const inventory = await loadInventory(path.join(ws.dir, 'build'));
    const recipes = await loadRecipes([path.join(ws.dir, 'recipes')]);
    const reporter = await createReporter('quiet', createRedactor());
    const run = { cluster: 'c', inventory, targets: [target], reporter };
    const result = await withRunLocks(run, async () =>
      runBackup({
        recipes,
        inventory,
        targets: [target],
        cluster: 'c',
        format: 'tar.gz',
        concurrency: 2,
        defaultStepTimeoutSec: 60,
        secrets: new Map(),
        executorFactory: await runExecutorFactory(inventory, reporter),
        reporter,
        redactor: createRedactor(),
        signal: new AbortController().signal,
      }),
    );
    expect(result.status, JSON.stringify(result)).toBe('success');
    expect(checks).toBe(1);
  }, 120_000);
});
