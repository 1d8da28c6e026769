/**
 * Two jobs of one cluster back up different components into one target (docs/incremental.md,
 * "Chain rules"): each job's incremental is based on the newest backup that backed up its
 * components, not on the other job's newer one, which holds none of its files.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { cliOutput, runCli } from '../helpers/cli.js';
import { localCluster, type LocalCluster } from '../archive-integrity/support.js';

let c: LocalCluster;
let config: string;
beforeEach(async () => {
  c = await localCluster();
  for (const app of ['app1', 'app2']) {
    const dir = path.join(c.data, app);
    await c.write(`data/${app}/steady.txt`, `${app}\n`.repeat(1000));
    await c.recipe(app, `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${dir}\nrestore:\n  apply:\n    - files: ${dir}\n`);
  }
  config = await c.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\ncluster: shared\nbuild: ${c.build}\nrecipes: [${c.recipes}]\ntargets: [${c.target}]\n` +
      `incremental: { maxChain: 5 }\njobs:\n  one: { components: { only: [app1] } }\n  two: { components: { only: [app2] } }\n`,
  );
});
afterEach(async () => c.cleanup());

/** `run --job`, which must succeed: the archive it added and its metadata sidecar. */
async function runJob(job: string): Promise<{ name: string; metadata: BackupMetadata; output: string }> {
  const before = new Set(await readdir(c.target).catch(() => []));
  const run = await runCli(['run', '-c', config, '--job', job]);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  const name = (await readdir(c.target)).find((n) => !before.has(n) && n.endsWith('.tar.gz'))!;
  const metadata = JSON.parse(await readFile(path.join(c.target, `${name}.metadata.json`), 'utf8')) as BackupMetadata;
  return { name, metadata, output: cliOutput(run) };
}

const steady = (m: BackupMetadata, app: string) => m.entries.find((e) => e.path === `${app}/localhost/files${c.data}/${app}/steady.txt`);

it("two jobs with different components in one target: each incremental is based on its own components' backup, and refers to the bytes there", async () => {
  const one = await runJob('one');
  const two = await runJob('two');
  expect(two.metadata.kind, 'job two has no backup of app2 to compare with').toBe('full');
  expect(two.output).toContain('holds no readable backup of cluster shared that backed up app2 to compare with');

  await writeFile(path.join(c.data, 'app1', 'new.txt'), 'new\n');
  const oneAgain = await runJob('one');
  await writeFile(path.join(c.data, 'app2', 'new.txt'), 'new\n');
  const twoAgain = await runJob('two');
  for (const [again, first, app] of [
    [oneAgain, one, 'app1'],
    [twoAgain, two, 'app2'],
  ] as const) {
    expect(again.metadata.kind, app).toBe('incremental');
    // Was: the other job's newer backup, which holds no file of this job: every file sent again.
    expect(again.metadata.base?.chain, app).toEqual([first.name]);
    expect(steady(again.metadata, app)?.ref, `${app}: the unchanged file is a reference to its bytes`).toBe(first.metadata.backupId);
  }
}, 300_000);
