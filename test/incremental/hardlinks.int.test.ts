/**
 * Issue 17, hardlinks in incrementals, through the BUILT CLI on the local host (real find, tar
 * and files): a full with a file and a hardlink to it, then incrementals where a new link to the
 * file appears and where nothing changes. Each restore (staged, and --stream) must give back the
 * same inode sharing as the source (`stat`: link counts, inode equality), not copies.
 */
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const RECIPE = `hosts: { group: app, run: all }
vars: { data: /nonexistent }
backup:
  collect: [{ path: "{{vars.data}}/tree" }]
restore:
  apply:
    - files: "{{vars.data}}/tree"
`;

let cluster: Cluster;
let tree: string;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  const data = cluster.dataDir('localhost');
  tree = path.join(data, 'tree');
  await mkdir(data, { recursive: true });
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
});

/** Each file's content and link count, and which files share an inode (named by the first path). */
async function shape(files: string[]): Promise<Record<string, { content: string; nlink: number; inode: string }>> {
  const inodes = new Map<number, string>();
  const out: Record<string, { content: string; nlink: number; inode: string }> = {};
  for (const f of files) {
    const info = await stat(path.join(tree, f));
    if (!inodes.has(info.ino)) inodes.set(info.ino, f);
    out[f] = { content: await readFile(path.join(tree, f), 'utf8'), nlink: info.nlink, inode: inodes.get(info.ino)! };
  }
  return out;
}

async function applyOk(mode: '--full' | '--incremental'): Promise<{ archive: string; storedFiles: string[] }> {
  const run = await cluster.apply(cluster.recipes, [mode]);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  expect(run.metadata?.kind).toBe(mode === '--full' ? 'full' : 'incremental');
  const storedFiles = run.metadata!.entries.filter((e) => e.type === 'file' && e.ref === undefined && e.path.includes('/files/')).map((e) => e.path);
  return { archive: run.archive!, storedFiles };
}

async function restoredShape(archive: string, extra: string[], files: string[]) {
  await rm(tree, { recursive: true, force: true });
  const r = await cluster.restore(archive, extra);
  expect(r.exitCode, cliOutput(r)).toBe(0);
  return shape(files);
}

describe('hardlinks in an incremental chain keep their inode sharing', () => {
  it('a new link to an unchanged file, nothing changed, a directory of links renamed: staged and --stream restores give back links, not copies', async () => {
    await rm(tree, { recursive: true, force: true });
    await mkdir(path.join(tree, 'sub'), { recursive: true });
    await writeFile(path.join(tree, 'data.bin'), 'the bytes of one inode\n'.repeat(100));
    await link(path.join(tree, 'data.bin'), path.join(tree, 'sub/link-1'));
    await writeFile(path.join(tree, 'alone'), 'single\n');
    await applyOk('--full');

    // A new link to the unchanged file.
    await link(path.join(tree, 'data.bin'), path.join(tree, 'link 2'));
    const files = ['data.bin', 'sub/link-1', 'link 2', 'alone'];
    const source = await shape(files);
    expect(source['link 2']).toEqual({ ...source['data.bin'], inode: 'data.bin' });
    const withNewLink = await applyOk('--incremental');
    // Nothing changed: every link and its file stay on the host, no bytes are stored again.
    const unchanged = await applyOk('--incremental');
    expect(unchanged.storedFiles).toEqual([]);
    // verify follows the chain and accepts a link to a reference.
    const verified = await runCli(['verify', path.basename(unchanged.archive), '-t', path.dirname(unchanged.archive)], { env: cluster.env });
    expect(verified.exitCode, cliOutput(verified)).toBe(0);

    // A renamed directory gives its link a new path and leaves the inode's ctime alone: the other
    // links are unchanged, yet the link must not be sent without them.
    await rename(path.join(tree, 'sub'), path.join(tree, 'moved'));
    const movedFiles = ['data.bin', 'moved/link-1', 'link 2', 'alone'];
    const movedSource = await shape(movedFiles);
    const moved = await applyOk('--incremental');

    await checkRestores([withNewLink.archive, unchanged.archive], files, source);
    await checkRestores([moved.archive], movedFiles, movedSource);
  }, 600_000);

  async function checkRestores(archives: string[], files: string[], source: Awaited<ReturnType<typeof shape>>): Promise<void> {
    for (const archive of archives) {
      for (const extra of [[], ['--stream']]) {
        const got = await restoredShape(archive, extra, files);
        const why = `${path.basename(archive)} ${extra.join(' ') || 'staged'}`;
        expect(got, why).toEqual(source);
        expect(got['link 2']!.nlink, why).toBe(3);
      }
    }
  }
});
