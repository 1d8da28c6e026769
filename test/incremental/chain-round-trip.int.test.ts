/**
 * Issue 17 "Done when": full -> 6 incrementals with additions, changes (one in place with its
 * mtime put back), deletions, renames, type changes file <-> directory <-> symlink and hardlinks
 * (a new link to an unchanged file, a change through a link, a link removed), chosen by a seeded
 * generator (the seed is in every failure message), then a restore of EACH point of the chain
 * must give back exactly the tree of that point: names as bytes, types, modes, contents, link
 * targets, file and directory mtimes (seconds), which files share an inode. Files untouched since the previous
 * point must not have been sent again (their entries are references). Over SSH on the sshd fleet
 * for two seeds, on the local host for others.
 *
 * More seeds on the local host, to hunt for bugs (40 seeds take ~7 minutes):
 *   LSB_CHAIN_SEEDS=200-239 npx vitest run test/incremental/chain-round-trip.int.test.ts
 */
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, readFile, readdir, readlink, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { nameToBytes } from '../../engine/archive/name-bytes.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import { prng } from '../helpers/prng.js';

/** Name pieces: spaces, a newline, a leading dash, UTF-8 and bytes that are not UTF-8. */
const NAME_PARTS: Buffer[] = [
  Buffer.from('plain'),
  Buffer.from('with space'),
  Buffer.from('new\nline'),
  Buffer.from('-dash'),
  Buffer.from('caf\u00e9'),
  Buffer.from([0x78, 0xff]),
  Buffer.from([0x80, 0x61]),
];

type Node =
  | { type: 'file'; mode: number; mtime: number; sha256: string; inode: string }
  | { type: 'dir'; mode: number; mtime: number }
  | { type: 'symlink'; target: string };

/**
 * The tree as a map from relative name (hex of its bytes, '/'-joined; '' the root) to what it is;
 * hardlinked files share an inode label.
 */
async function snapshot(root: Buffer): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  out.set('', { type: 'dir', mode: (await lstat(root)).mode & 0o7777, mtime: wholeSeconds(await lstat(root)) });
  /** Each inode's smallest name: a label that does not depend on readdir order. */
  const inodes = new Map<number, string>();
  const inodeOf = new Map<string, number>();
  const walk = async (dir: Buffer, rel: string) => {
    for (const name of await readdir(dir, { encoding: 'buffer' })) {
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const key = rel + '/' + name.toString('hex');
      const st = await lstat(full);
      if (st.isSymbolicLink()) out.set(key, { type: 'symlink', target: (await readlink(full, { encoding: 'buffer' })).toString('hex') });
      else if (st.isDirectory()) {
        out.set(key, { type: 'dir', mode: st.mode & 0o7777, mtime: wholeSeconds(st) });
        await walk(full, key);
      } else {
        out.set(key, {
          type: 'file',
          mode: st.mode & 0o7777,
          mtime: wholeSeconds(st),
          sha256: createHash('sha256')
            .update(await readFile(full))
            .digest('hex'),
          inode: '',
        });
        inodeOf.set(key, st.ino);
        const first = inodes.get(st.ino);
        if (first === undefined || key < first) inodes.set(st.ino, key);
      }
    }
  };
  await walk(root, '');
  for (const [key, ino] of inodeOf) (out.get(key) as { inode: string }).inode = inodes.get(ino)!;
  return out;
}

/** Whole seconds: a reference's time is its holder's header's (metadata.json leaves it out). */
const wholeSeconds = (st: { mtimeMs: number }) => Math.floor(st.mtimeMs / 1000);

/**
 * Every directory gets a time of its own in the past, so a restore that writes into a directory
 * after setting its time shows: that directory's time is then the restore's. Not drawn from the
 * seed's generator, which would change the trees of the seeds kept for the bugs they found.
 */
async function ageDirectories(root: Buffer, point: number): Promise<void> {
  const dirs = [root, ...(await listAll(root)).filter((e) => e.kind === 'dir').map((e) => e.path)];
  for (const [i, d] of dirs.entries()) {
    const t = 1_500_000_000 + point * 1_000_000 + i * 1_000;
    await utimes(d, t, t);
  }
}

/** Every path (bytes) under root, files and directories and links. */
async function listAll(root: Buffer): Promise<{ path: Buffer; kind: 'file' | 'dir' | 'symlink'; ino: number }[]> {
  const out: { path: Buffer; kind: 'file' | 'dir' | 'symlink'; ino: number }[] = [];
  const walk = async (dir: Buffer) => {
    for (const name of await readdir(dir, { encoding: 'buffer' })) {
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const st = await lstat(full);
      const kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
      out.push({ path: full, kind, ino: st.ino });
      if (kind === 'dir') await walk(full);
    }
  };
  await walk(root);
  return out;
}

/** Changes one point of the chain into the next; returns the files left untouched (as bytes, hex). */
async function mutate(root: Buffer, next: () => number, round: number): Promise<Set<string>> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
  const newName = (dir: Buffer) => Buffer.concat([dir, Buffer.from('/'), pick(NAME_PARTS), Buffer.from(`-${round}-${Math.floor(next() * 1e6)}`)]);
  const content = () => Buffer.from(`round ${round} ${next()}\n`.repeat(1 + Math.floor(next() * 50)));
  const touched = new Set<string>();
  // A change to one link of a file changes them all (its inode's ctime moves): they are sent again.
  const touchedInodes = new Set<number>();
  const mark = (p: Buffer) => {
    const hex = p.toString('hex');
    touched.add(hex);
    // The file itself, or every file under a directory (rm -r unlinks them all).
    for (const [file, ino] of inodeByPath) if (file === hex || file.startsWith(hex + Buffer.from('/').toString('hex'))) touchedInodes.add(ino);
  };
  let inodeByPath = new Map<string, number>();
  for (let op = 0; op < 12; op++) {
    const all = await listAll(root);
    inodeByPath = new Map(all.filter((e) => e.kind === 'file').map((e) => [e.path.toString('hex'), e.ino]));
    const dirs = [root, ...all.filter((e) => e.kind === 'dir').map((e) => e.path)];
    const files = all.filter((e) => e.kind === 'file').map((e) => e.path);
    const any = all.map((e) => e.path);
    const choice = pick([
      'add',
      'add',
      'change',
      'inplace',
      'chmod',
      'delete',
      'rename',
      'file2dir',
      'dir2file',
      'file2link',
      'link2file',
      'mkdir',
      'hardlink',
      'hardlink',
    ]);
    if (choice === 'add' || files.length === 0) {
      const p = newName(pick(dirs));
      await writeFile(p, content());
      mark(p);
    } else if (choice === 'change') {
      const p = pick(files);
      await writeFile(p, content());
      mark(p);
    } else if (choice === 'inplace') {
      // Same size, same mtime, other bytes: only the ctime tells.
      const p = pick(files);
      const before = await stat(p);
      const bytes = await readFile(p);
      if (bytes.length > 0) bytes[0] = bytes[0]! ^ 0x01;
      await writeFile(p, bytes);
      await utimes(p, before.atime, before.mtime);
      mark(p);
    } else if (choice === 'chmod') {
      const p = pick(files);
      await chmod(p, pick([0o600, 0o640, 0o644, 0o755]));
      mark(p);
    } else if (choice === 'delete') {
      const p = pick(any);
      await rm(p, { recursive: true, force: true });
      mark(p);
    } else if (choice === 'rename') {
      const p = pick(files);
      const to = newName(pick(dirs));
      if (!to.subarray(0, p.length + 1).equals(Buffer.concat([p, Buffer.from('/')]))) {
        await rename(p, to);
        mark(p);
        mark(to);
      }
    } else if (choice === 'file2dir') {
      const p = pick(files);
      await rm(p);
      await mkdir(p);
      await writeFile(Buffer.concat([p, Buffer.from('/inside')]), content());
      mark(p);
    } else if (choice === 'dir2file') {
      const d = all.filter((e) => e.kind === 'dir').map((e) => e.path);
      if (d.length === 0) continue;
      const p = pick(d);
      await rm(p, { recursive: true });
      await writeFile(p, content());
      mark(p);
    } else if (choice === 'file2link') {
      const p = pick(files);
      await rm(p);
      await symlink(pick([Buffer.from('plain'), Buffer.from('../elsewhere'), Buffer.concat([Buffer.from('t'), Buffer.from([0xfe])])]), p);
      mark(p);
    } else if (choice === 'link2file') {
      const links = all.filter((e) => e.kind === 'symlink').map((e) => e.path);
      if (links.length === 0) continue;
      const p = pick(links);
      await rm(p);
      await writeFile(p, content());
      mark(p);
    } else if (choice === 'hardlink') {
      // A new link to a file; 'change', 'inplace', 'chmod' and 'delete' may later pick either name.
      const p = pick(files);
      const to = newName(pick(dirs));
      await link(p, to);
      mark(p);
      mark(to);
    } else {
      await mkdir(newName(pick(dirs)));
    }
  }
  // Untouched: files that exist now, were not marked, and are not under a marked path.
  const marked = [...touched].map((h) => Buffer.from(h, 'hex'));
  const untouched = new Set<string>();
  for (const e of await listAll(root)) {
    if (e.kind !== 'file') continue;
    const under = marked.some((m) => e.path.equals(m) || e.path.subarray(0, m.length + 1).equals(Buffer.concat([m, Buffer.from('/')])));
    if (!under && !touchedInodes.has(e.ino)) untouched.add(e.path.subarray(root.length + 1).toString('hex'));
  }
  return untouched;
}

/**
 * The files under the tree whose bytes this backup did not store (as metadata.json names them,
 * bytes that are not UTF-8 escaped): references, and hardlinks to a reference.
 */
function referencedFiles(meta: BackupMetadata, prefix: string): Set<string> {
  const refs = new Set(meta.entries.filter((e) => e.ref !== undefined).map((e) => e.path));
  return new Set(
    meta.entries
      .filter((e) => (refs.has(e.path) || (e.type === 'hardlink' && refs.has(e.linkpath ?? ''))) && e.path.startsWith(prefix))
      .map((e) => nameToBytes(e.path.slice(prefix.length)).toString('hex')),
  );
}

let fleet: Fleet | undefined;
afterAll(async () => {
  await fleet?.stop();
});

/** `applyFlags`: added to every apply of the chain (e.g. compression on the host). */
async function chainRoundTrip(cluster: Cluster, host: string, seed: number, applyFlags: string[] = []): Promise<void> {
  const why = `seed ${seed} (${host})`;
  const next = prng(seed);
  const data = cluster.dataDir(host);
  const tree = path.join(data, 'tree');
  const root = Buffer.from(tree);
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++)
    await writeFile(
      Buffer.concat([root, Buffer.from(i % 2 ? '/sub/' : '/'), NAME_PARTS[i % NAME_PARTS.length]!, Buffer.from(`-${i}`)]),
      `file ${i}\n`.repeat(i * 40 + 1),
    );
  await symlink('sub', path.join(tree, 'to-sub'));
  await chmod(data, 0o755);

  const points: { archive: string; tree: Map<string, Node> }[] = [];
  let untouched = new Set<string>();
  for (let point = 0; point < 7; point++) {
    if (point > 0) untouched = await mutate(root, next, point);
    await ageDirectories(root, point);
    const run = await cluster.apply(cluster.recipes, [point === 0 ? '--full' : '--incremental', ...applyFlags]);
    expect(run.exitCode, `${why}, point ${point}: ${cliOutput(run)}`).toBe(0);
    expect(run.archive, why).toBeDefined();
    const meta = run.metadata!;
    expect(meta.kind, why).toBe(point === 0 ? 'full' : 'incremental');
    // list, prune and retention read each sidecar only up to its entry list (engine/archive/metadata-head.ts).
    expect(Object.keys(meta).at(-1), `${why}: the entry list is metadata.json's last member`).toBe('entries');
    if (applyFlags.includes('remote'))
      expect(
        meta.components[0]!.hosts.map((h) => h.transport),
        `${why}: compressed on the host`,
      ).toEqual(['zstd']);
    if (point > 0) {
      expect(meta.base?.archive, why).toBe(path.basename(points[point - 1]!.archive));
      // Unchanged files stayed on the host: each is a reference, none was stored again.
      const refs = referencedFiles(meta, `app/${host}/files/${tree.replace(/^\/+/, '')}/`);
      for (const f of untouched) expect(refs.has(f), `${why}, point ${point}: unchanged ${Buffer.from(f, 'hex')} is a reference`).toBe(true);
    }
    points.push({ archive: run.archive!, tree: await snapshot(root) });
  }

  for (const [i, point] of points.entries()) {
    await rm(tree, { recursive: true, force: true });
    const restore = await cluster.restore(point.archive);
    expect(restore.exitCode, `${why}, restore of point ${i}: ${cliOutput(restore)}`).toBe(0);
    const got = await snapshot(root);
    expect(Object.fromEntries(got), `${why}, restore of point ${i}`).toEqual(Object.fromEntries(point.tree));
  }
}

const RECIPE = `hosts: { group: app, run: all }
vars: { data: /nonexistent }
become: true
backup:
  collect:
    - path: "{{vars.data}}/tree"
restore:
  apply:
    - files: "{{vars.data}}/tree"
`;

/** `LSB_CHAIN_SEEDS` ("200-239" or "5,7,9"), else the seeds CI runs. */
function localSeeds(): number[] {
  const wanted = process.env.LSB_CHAIN_SEEDS;
  // Seed 125 collects a file whose 100th path byte is '/' (GNU tar's ustar stand-in for its long
  // name ends there): it was read back as a directory and restore refused the archive.
  if (!wanted) return [1, 2, 125];
  const range = /^(\d+)-(\d+)$/.exec(wanted);
  if (range) return Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i);
  return wanted.split(',').map(Number);
}

describe('a chain of 7 restores point by point', () => {
  it.each(localSeeds())(
    'local host, seed %i',
    async (seed) => {
      const cluster = await createCluster({ local: ['app'] });
      try {
        await mkdir(cluster.dataDir('localhost'), { recursive: true });
        await cluster.hostVars('localhost', { data: cluster.dataDir('localhost') });
        await cluster.writeRecipe('app', RECIPE);
        await chainRoundTrip(cluster, 'localhost', seed);
      } finally {
        await cluster.cleanup();
      }
    },
    600_000,
  );

  it('over SSH on the fleet, seed 3', async () => {
    fleet = await startFleet({ hosts: 1 });
    const cluster = await createCluster({ fleet, groups: { host1: ['app'] }, dataDirs: true });
    try {
      await cluster.writeRecipe('app', RECIPE);
      await chainRoundTrip(cluster, 'host1', 3);
    } finally {
      await cluster.cleanup();
    }
  }, 600_000);

  it('over SSH with --compress remote (the host compresses what its tar sends), seed 4', async () => {
    fleet ??= await startFleet({ hosts: 1 });
    const cluster = await createCluster({ fleet, groups: { host1: ['app'] }, dataDirs: true });
    try {
      await cluster.writeRecipe('app', RECIPE);
      await chainRoundTrip(cluster, 'host1', 4, ['-f', 'tar.zst', '--compress', 'remote']);
    } finally {
      await cluster.cleanup();
    }
  }, 600_000);
});
