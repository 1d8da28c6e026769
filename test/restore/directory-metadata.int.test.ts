/**
 * Directories come back with their backed-up mode and time, whatever the order of the entries
 * the host's tar extracts: through the BUILT CLI on the local host, a tree of a service user
 * (`nobody`, the recipe's `become`) with a read-only directory holding a file, backed up `--full`
 * and then `--incremental` with nothing changed (every file a reference, which restore sends
 * after the newest archive's directories). Each restore into the emptied tree, staged and
 * `--stream`, must succeed and give back every directory's mode and time. A plain `tar -x` of the
 * full must give the directories their times too (the archive lists a directory before what it
 * holds).
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const NOBODY = 65534;

const RECIPE = `hosts: { group: app, run: all }
vars: { data: /nonexistent }
become: nobody
backup:
  collect: [{ path: "{{vars.data}}/dn" }]
restore:
  apply:
    - files: "{{vars.data}}/dn"
`;

/** Each directory's mode and time (seconds) as backed up; `ro` is read-only to its owner too. */
const DIRS: Record<string, { mode: number; mtime: number }> = {
  '.': { mode: 0o755, mtime: 1_600_000_000 },
  ro: { mode: 0o555, mtime: 1_600_001_000 },
  rw: { mode: 0o750, mtime: 1_600_002_000 },
  'rw/deeper': { mode: 0o700, mtime: 1_600_003_000 },
};
const FILES: Record<string, string> = { 'ro/f': 'in a read-only directory\n', 'rw/g': 'beside a subdirectory\n', 'rw/deeper/h': 'deeper\n' };

let cluster: Cluster;
let dn: string;
const archives: { full?: string; incremental?: string } = {};

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  const data = cluster.dataDir('localhost');
  dn = path.join(data, 'dn');
  await mkdir(data, { recursive: true, mode: 0o755 });
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);
  await makeTree();
  const full = await cluster.apply(cluster.recipes, ['--full']);
  expect(full.exitCode, cliOutput(full)).toBe(0);
  const incremental = await cluster.apply(cluster.recipes, ['--incremental']);
  expect(incremental.exitCode, cliOutput(incremental)).toBe(0);
  archives.full = full.archive;
  archives.incremental = incremental.archive;
  // Nothing changed: the incremental stores the directories and refers to every file.
  const files = incremental.metadata?.entries.filter((e) => e.type === 'file' && e.path.includes('/files/'));
  expect(files?.map((e) => e.ref !== undefined)).toEqual(Object.keys(FILES).map(() => true));
}, 300_000);

afterAll(async () => {
  await cluster?.cleanup();
});

async function makeTree(): Promise<void> {
  for (const d of Object.keys(DIRS)) await mkdir(path.join(dn, d), { recursive: true });
  for (const [f, content] of Object.entries(FILES)) await writeFile(path.join(dn, f), content);
  for (const p of [...Object.keys(DIRS), ...Object.keys(FILES)]) await chown(path.join(dn, p), NOBODY, NOBODY);
  // Deepest first: a mode that takes the owner's write bit away comes after the writes below it.
  for (const [d, { mode, mtime }] of Object.entries(DIRS).reverse()) {
    await chmod(path.join(dn, d), mode);
    await utimes(path.join(dn, d), mtime, mtime);
  }
}

/** The tree's directories (mode, time in seconds) and files (content) under `root`. */
async function shape(root: string) {
  const dirs: Record<string, { mode: number; mtime: number }> = {};
  for (const d of Object.keys(DIRS)) {
    const st = await lstat(path.join(root, d));
    dirs[d] = { mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
  }
  const files: Record<string, string> = {};
  for (const f of Object.keys(FILES)) files[f] = await readFile(path.join(root, f), 'utf8');
  return { dirs, files };
}

/** Empties the tree the way an operator would before restoring into it (dn stays, nobody's). */
async function emptyTree(): Promise<void> {
  for (const d of ['ro', 'rw']) {
    await chmod(path.join(dn, d), 0o755);
    await rm(path.join(dn, d), { recursive: true, force: true });
  }
}

describe('directories keep their backed-up mode and time', () => {
  it.each([
    ['the full', 'full', []],
    ['the incremental (every file a reference)', 'incremental', []],
    ['the incremental, --stream', 'incremental', ['--stream']],
  ] as const)('restoring %s as the service user', async (_label, which, extra) => {
    await emptyTree();
    const r = await cluster.restore(archives[which]!, [...extra]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await shape(dn)).toEqual({ dirs: DIRS, files: FILES });
  });

  it('a plain tar -x of the full gives every directory its time', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'lsb-plain-tar-'));
    try {
      execFileSync('tar', ['--extract', '--file', archives.full!, '--directory', out]);
      const root = path.join(out, 'app', 'localhost', 'files', dn.replace(/^\/+/, ''));
      expect(await shape(root)).toEqual({ dirs: DIRS, files: FILES });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
