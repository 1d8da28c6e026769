/**
 * Private temp directories (the spool of a remote target, the staging of a restore, the target of
 * `recipe test`) hold plaintext backup data. Each is created 0700 and records its owner the way a lock does
 * (lock-file.ts: pid, process start, host), so what a run killed with SIGKILL left behind is
 * removed by the next run instead of staying forever.
 */
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { currentOwner, readOwner, staleReason } from './lock-file.js';

const OWNER_FILE = '.lsbackup-owner';
/** The name prefixes of lsbackup's private temp directories. */
const PREFIXES = ['lsbackup-spool-', 'lsbackup-restore-', 'lsbackup-recipe-test-'] as const;

/** A new private directory `<parent>/<prefix>XXXXXX` (mkdtemp: mode 0700) owned by this process. */
export async function createOwnedTempDir(parent: string, prefix: (typeof PREFIXES)[number]): Promise<string> {
  const dir = await mkdtemp(path.join(parent, prefix));
  // Written aside and renamed: a run cleaning up the same parent never reads half a record.
  await writeFile(path.join(dir, `${OWNER_FILE}.new`), JSON.stringify(currentOwner()) + '\n', { mode: 0o600 });
  await rename(path.join(dir, `${OWNER_FILE}.new`), path.join(dir, OWNER_FILE));
  return dir;
}

/**
 * Removes the private temp directories under `parents` whose owner is provably gone; returns
 * them. One without an owner record (being created, or made by an older lsbackup) is left alone.
 */
export async function removeStaleTempDirs(parents: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const parent of new Set(parents.map((p) => path.resolve(p)))) {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names.filter((n) => PREFIXES.some((p) => n.startsWith(p)))) {
      const dir = path.join(parent, name);
      const owner = await readOwner(path.join(dir, OWNER_FILE));
      if (!owner || !staleReason(owner)) continue;
      // One that cannot be removed (another user's) must not stop the run.
      if (
        await rm(dir, { recursive: true, force: true }).then(
          () => true,
          () => false,
        )
      )
        removed.push(dir);
    }
  }
  return removed;
}
