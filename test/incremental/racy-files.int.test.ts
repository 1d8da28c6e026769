/**
 * A file changed in the same second as the host listed it (docs/incremental.md, "Chain rules"),
 * on a filesystem that keeps whole seconds (ext4 with 128-byte inodes, ext3, some NFS servers):
 * rewritten with the same size after tar read it, its mtime and ctime stay, and so does its
 * signature. Such a file's signature is not recorded: the next incremental sends it again
 * instead of referring to bytes it no longer holds.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { cliOutput } from '../helpers/cli.js';
import { mountWholeSecondExt4, optedOut } from '../helpers/prerequisites.js';
import { localCluster, type LocalCluster } from '../archive-integrity/support.js';

const skip = optedOut('loop', 'an incremental of files changed in the second they were listed, on a whole-second filesystem');
let c: LocalCluster;
let mount: string;
let tree: string;
beforeEach(async () => {
  c = await localCluster();
  mount = path.join(c.dir, 'whole-seconds');
  tree = path.join(mount, 'tree');
  await mkdir(mount);
  mountWholeSecondExt4(path.join(c.dir, 'ext4.img'), mount);
  await mkdir(tree);
});
afterEach(async () => {
  // The test's writer, should the backup have failed before its post step stopped it.
  const pid = Number(await readFile(path.join(c.dir, 'writer.pid'), 'utf8').catch(() => ''));
  if (pid > 0) await execa('kill', ['--', `-${pid}`], { reject: false });
  await execa('umount', [mount], { reject: false });
  await c.cleanup();
});

/** The recipe collecting the tree; `pre` and `post`: commands run before and after the collect. */
const recipe = (pre?: string, post?: string) =>
  c.recipe(
    'app',
    `hosts: { group: app }\nbackup:\n` +
      (pre ? `  pre:\n    - name: write\n      run: ${JSON.stringify(pre)}\n` : '') +
      `  collect:\n    - path: ${tree}\n` +
      (post ? `  post:\n    - name: rewrite\n      run: ${JSON.stringify(post)}\n` : '') +
      `restore:\n  apply:\n    - files: ${tree}\n`,
  );

const state = (m: BackupMetadata) => m.entries.find((e) => e.path === `app/localhost/files${tree}/state`)!;

/** apply with `extra` (and `env`), which must succeed: the archive it added and its metadata sidecar. */
async function backup(extra: string[], env?: Record<string, string>): Promise<{ name: string; metadata: BackupMetadata; output: string }> {
  const before = new Set(await readdir(c.target).catch(() => []));
  const run = await c.apply(extra, env);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  const name = (await readdir(c.target)).find((n) => !before.has(n) && n.endsWith('.tar.gz'))!;
  return { name, metadata: JSON.parse(await readFile(path.join(c.target, `${name}.metadata.json`), 'utf8')) as BackupMetadata, output: cliOutput(run) };
}

/**
 * A full while an application keeps rewriting its state file in place with the same size, from
 * before the listing until the backup has read it (the post step stops it, after one last write),
 * then an incremental: the full records no signature for it, the incremental sends it again, and
 * restore gives back what the host holds. Writing all along, not once before the listing: however
 * long a loaded machine takes between the steps, the file's last change is never older than the listing.
 */
async function expectRacyFileSentAgain(env?: Record<string, string>): Promise<void> {
  const file = path.join(tree, 'state');
  const writer = path.join(c.dir, 'writer.pid');
  await recipe(
    `printf 'AAAA\\n' > ${file}; setsid sh -c 'while :; do printf "AAAA\\n" 1<> ${file}; sleep 0.05; done' </dev/null >/dev/null 2>&1 & echo $! > ${writer}`,
    `kill -- -$(cat ${writer}); printf 'BBBB\\n' 1<> ${file}`,
  );
  const full = await backup(['--full'], env);
  expect(state(full.metadata).stat, `changed in the second it was listed: no signature\n${full.output}`).toBeUndefined();
  // Names (and so fullEvery) are the controller's clock, whatever the host's says.
  expect(Math.abs(new Date(full.metadata.startedAt).getTime() - Date.now())).toBeLessThan(600_000);

  await recipe();
  const live = await readFile(file);
  const incr = await backup(['--incremental'], env);
  expect(incr.metadata.kind, incr.output).toBe('incremental');
  // Was: a reference to the full's bytes (AAAA) whenever the rewrite kept the second.
  expect(state(incr.metadata).ref, incr.output).toBeUndefined();

  await rm(tree, { recursive: true });
  const restore = await c.restore(path.join(c.target, incr.name));
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect((await readFile(file)).toString()).toBe(live.toString());
}

it.skipIf(skip)('a file written just before the listing has no signature, and the next incremental sends it again', () => expectRacyFileSentAgain(), 300_000);

// The host's `date` an hour off the clock that stamps its files (a date wrapper first in the PATH
// the local host's commands get, as a faked time or a replaced date would be): the listing time
// must not come from it, or a file written just before the listing looks an hour older.
it.skipIf(skip).each([
  ['ahead of', 3600],
  ['behind', -3600],
])(
  "with the host's date an hour %s its file times: a file written just before the listing has no signature, and the next incremental sends it again",
  async (_what, offset) => {
    const bin = path.join(c.dir, 'skewed-bin');
    await mkdir(bin);
    const realDate = (await execa('sh', ['-c', 'command -v date'])).stdout;
    await writeFile(path.join(bin, 'date'), `#!/bin/sh\nexec ${realDate} -d '${offset} seconds' "$@"\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH}` };
    expect(Number((await execa('date', ['+%s'], { env })).stdout) - Math.floor(Date.now() / 1000)).toBeCloseTo(offset, -1);
    await expectRacyFileSentAgain(env);
  },
  300_000,
);
