/**
 * A collect step's `exclude` in an incremental chain (docs/incremental.md, the exclude token), through the
 * built CLI on the local host: a file the full stored and a pattern added since excludes is not in the next
 * incremental at all (not stored, not a reference) and does not come back on restore; the step is sent whole
 * once, and the incremental after it refers to unchanged files again.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { cliOutput } from '../helpers/cli.js';
import { localCluster, type LocalCluster } from '../archive-integrity/support.js';

let c: LocalCluster;
let tree: string;
const recipe = (exclude: string) => `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\n${exclude}restore:\n  apply:\n    - files: ${tree}\n`;

beforeEach(async () => {
  c = await localCluster();
  await mkdir(c.target, { recursive: true });
  tree = path.join(c.data, 'tree');
  await c.write('data/tree/steady.txt', 'steady\n'.repeat(1000));
  await c.write('data/tree/sub/secret.key', 'not to be kept any more\n');
  await c.recipe('app', recipe(''));
});
afterEach(async () => c.cleanup());

const entry = (m: BackupMetadata, file: string) => m.entries.find((e) => e.path === `app/localhost/files${tree}/${file}`);

it('a file a newly added exclude pattern matches is neither stored nor referred to, and restore leaves it out', async () => {
  const full = await c.backup(['--full']);
  expect(entry(full.metadata, 'sub/secret.key')?.sha256, 'the full stored it').toBeDefined();

  await c.recipe('app', recipe('      exclude: ["*.key"]\n'));
  const first = await c.backup(['--incremental']);
  expect(first.metadata.kind).toBe('incremental');
  expect(entry(first.metadata, 'sub/secret.key'), 'excluded: no entry, no reference').toBeUndefined();
  // The step's excludes changed: its files are sent whole this once.
  expect(entry(first.metadata, 'steady.txt')?.ref).toBeUndefined();
  expect(entry(first.metadata, 'steady.txt')?.sha256).toBe(entry(full.metadata, 'steady.txt')?.sha256);

  const second = await c.backup(['--incremental']);
  expect(second.metadata.base?.backupId).toBe(first.metadata.backupId);
  expect(entry(second.metadata, 'steady.txt')?.ref, 'same excludes: unchanged files are references again').toBe(first.metadata.backupId);
  expect(entry(second.metadata, 'sub/secret.key')).toBeUndefined();

  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, second.name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect(await readFile(path.join(tree, 'steady.txt'), 'utf8')).toBe('steady\n'.repeat(1000));
  await expect(stat(path.join(tree, 'sub/secret.key')), 'the excluded file stays out').rejects.toThrow(/ENOENT/);
}, 300_000);

/**
 * A pattern naming a directory leaves out what it holds, in an incremental as in a full: GNU tar
 * gives a pattern its leading-directory match only when the pattern comes before `--no-recursion`
 * (the incremental's tar is given every name and must not recurse), so the option order of the
 * incremental collect's tar is what keeps a changed file in an excluded directory out.
 */
it('a directory an exclude pattern names keeps its files out of every incremental, changed or new', async () => {
  await c.recipe('app', recipe('      exclude: ["sub"]\n'));
  const full = await c.backup(['--full']);
  expect(entry(full.metadata, 'sub/secret.key')).toBeUndefined();
  expect(entry(full.metadata, 'sub')).toBeUndefined();

  await c.write('data/tree/sub/secret.key', 'changed since the full\n');
  await c.write('data/tree/sub/new.key', 'new since the full\n');
  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind).toBe('incremental');
  const underSub = next.metadata.entries.filter((e) => e.path.startsWith(`app/localhost/files${tree}/sub`));
  expect(underSub, 'nothing under the excluded directory: not stored, not referred to').toEqual([]);
  expect(entry(next.metadata, 'steady.txt')?.ref).toBe(full.metadata.backupId);
}, 300_000);
