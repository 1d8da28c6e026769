/** The tree the damaged- and tampered-base tests back up, and the check that a backup of it restores. */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { cliOutput, type LocalCluster } from '../archive-integrity/support.js';

/** `name` restores `tree` whole: the file that changed to `second`, and the steady one that only the first backup held. */
export async function expectRestores(c: LocalCluster, tree: string, name: string): Promise<void> {
  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect(await readFile(path.join(tree, 'steady.txt'), 'utf8')).toBe('steady\n'.repeat(1000));
  expect(await readFile(path.join(tree, 'changing.txt'), 'utf8')).toBe('second\n');
}
