/**
 * A collect step's `exclude` pattern that matches the collect path itself (GNU tar matches a
 * pattern against each trailing part of a name and its leading directories, `*` matching '/'):
 * tar would leave the whole path out, the step would store nothing and the run say success.
 * Through the built CLI on the local host, for a full and an incremental collect: the step fails
 * naming the pattern, the path and the fix, and no backup is stored. A pattern that matches only
 * below the path, and a missing path (optional or not), behave as before.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput } from '../helpers/cli.js';
import { localCluster, type LocalCluster } from '../archive-integrity/support.js';

let c: LocalCluster;
let tree: string;
const recipe = (collect: string) => `hosts: { group: app }\nvars:\n  dir: ${tree}\nbackup:\n  collect:\n${collect}`;
const step = (exclude: string[], extra = '') => `    - path: "{{vars.dir}}"\n      exclude: ${JSON.stringify(exclude)}\n${extra}`;

beforeEach(async () => {
  c = await localCluster();
  tree = path.join(c.data, 'tree');
  await c.write('data/tree/app.conf', 'kept\n');
  await c.write('data/tree/logs/old.log', 'log\n');
});
afterEach(async () => c.cleanup());

const stored = async () => (await readdir(c.target).catch(() => [])).filter((n) => n.endsWith('.tar.gz'));

describe('an exclude pattern that matches the collect path itself', () => {
  it('fails the step naming the pattern, the path and the fix; nothing is stored (full collect)', async () => {
    // The path's own name, a glob over its parent, a wildcard, its parent directory's name.
    for (const pattern of ['tree', `${c.data}/*`, 'tr?e', path.basename(c.data)]) {
      await c.recipe('app', recipe(step(['*.tmp', pattern])));
      const r = await c.apply(['--full']);
      expect(r.exitCode, `${pattern}\n${cliOutput(r)}`).toBe(1);
      expect(r.stderr).toContain(`lsbackup: exclude pattern '${pattern}' matches the collect path ${tree} itself`);
      expect(r.stderr).toContain('write a pattern that matches only what is below it');
      expect(r.stderr).not.toContain("exclude pattern '*.tmp'");
      expect(await stored(), pattern).toEqual([]);
    }
  }, 300_000);

  it('fails an incremental collect the same way', async () => {
    await c.recipe('app', recipe(step(['*.tmp'])));
    await c.backup(['--full']);
    const before = await stored();
    await c.recipe('app', recipe(step(['tree'])));
    const r = await c.apply(['--incremental']);
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toContain(`lsbackup: exclude pattern 'tree' matches the collect path ${tree} itself`);
    expect(await stored()).toEqual(before);
  }, 300_000);

  it('a pattern below the path still collects the rest; a missing path keeps its behaviour', async () => {
    await c.recipe('app', recipe(step(['*.log'])));
    const ok = await c.backup(['--full']);
    const files = ok.metadata.entries.map((e) => e.path);
    expect(files).toContain(`app/localhost/files${tree}/app.conf`);
    expect(files).not.toContain(`app/localhost/files${tree}/logs/old.log`);

    const missing = `${tree}/nope`;
    await c.recipe('app', recipe(`    - path: ${missing}\n      exclude: ["nope"]\n`));
    const r = await c.apply(['--full']);
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toContain(`lsbackup: no such file or directory: ${missing}`);
    expect(r.stderr).not.toContain('exclude pattern');

    await c.recipe('app', recipe(`    - path: ${missing}\n      exclude: ["nope"]\n      optional: true\n`));
    const optional = await c.apply(['--full']);
    expect(optional.exitCode, cliOutput(optional)).toBe(0);
  }, 300_000);
});
