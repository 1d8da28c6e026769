/**
 * Issue 17.7, restore without a full local copy, through the BUILT CLI on the local host (real
 * tar, real files): the staging dir is a real tmpfs of 256 KiB, far smaller than each backup
 * (~20 MiB of incompressible data), so the kernel itself bounds what staging may write
 * (ENOSPC past it). A restore must still succeed — stream mode, chosen by itself and said so —
 * and give back the trees byte for byte; the tmpfs's use, sampled while it runs, stays
 * <= 1 % of the backup. Also: a damaged archive in stream mode is refused before the first host
 * command, an incremental chain restores in stream mode, and so does a backup on the real S3
 * server (Swift, test/infra/swift.ts). An archive changed between the two passes:
 * test/restore/run-restore.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, jsonEvents, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import { mountTmpfs, optedOut } from '../helpers/prerequisites.js';
import { createBucket, s3TargetFlags, startSwiftS3, type S3Server } from '../infra/swift.js';

const STAGING_BYTES = 256 * 1024;
const TIMEOUT_MS = 600_000;

// The pre step's marker shows whether any host command ran.
const RECIPE = `hosts: { group: app, run: all }
vars: { data: /nonexistent }
backup:
  collect: [{ path: "{{vars.data}}/conf" }]
  snapshot: [{ name: database dump, run: "cat {{vars.data}}/db.bin", output: db.bin }]
restore:
  pre:
    - run: touch {{vars.data}}/restore-began
  apply:
    - run: cat > {{vars.data}}/db.bin
      input: db.bin
    - files: "{{vars.data}}/conf"
`;

let cluster: Cluster;
let data: string;
let staging: string | undefined;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  data = cluster.dataDir('localhost');
  await mkdir(data, { recursive: true });
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);
  if (!optedOut('tmpfs', 'restore with a staging dir smaller than the backup')) {
    staging = path.join(cluster.dir, 'small-staging');
    await mkdir(staging);
    mountTmpfs(staging, `size=${STAGING_BYTES},mode=0700`);
  }
}, 120_000);

afterAll(async () => {
  if (staging) execFileSync('umount', [staging]);
  await cluster?.cleanup();
});

function smallStaging(): string {
  if (!staging) throw new Error('LSB_TESTS_WITHOUT=tmpfs: stream mode with a small staging dir was NOT tested');
  return staging;
}

/** Incompressible files in several directories, a symlink, a hardlink, an empty file; and the database. */
async function writeData(): Promise<void> {
  await rm(path.join(data, 'conf'), { recursive: true, force: true });
  await mkdir(path.join(data, 'conf/a/deep'), { recursive: true });
  await mkdir(path.join(data, 'conf/b'), { recursive: true });
  for (let i = 0; i < 6; i++) await writeFile(path.join(data, `conf/${i % 2 ? 'a/deep' : 'b'}/blob-${i}.bin`), randomBytes(3 * 1024 * 1024 + i));
  await writeFile(path.join(data, 'conf/app.conf'), `round=${randomBytes(8).toString('hex')}\n`);
  await chmod(path.join(data, 'conf/app.conf'), 0o640);
  await writeFile(path.join(data, 'conf/empty'), '');
  await symlink('a/deep/blob-1.bin', path.join(data, 'conf/current'));
  await link(path.join(data, 'conf/b/blob-0.bin'), path.join(data, 'conf/b/same-as-blob-0'));
  await writeFile(path.join(data, 'db.bin'), randomBytes(2 * 1024 * 1024 + 3));
}

type Node = { type: 'file'; mode: number; size: number; sha256: string; inode: string } | { type: 'dir'; mode: number } | { type: 'symlink'; target: string };

/** The data dir as a map of relative path -> what it is; hardlinked files share an inode label. */
async function snapshot(): Promise<Map<string, Node>> {
  const tree = new Map<string, Node>();
  const inodes = new Map<number, string>();
  const walk = async (rel: string): Promise<void> => {
    const full = path.join(data, rel);
    const info = await lstat(full);
    if (info.isSymbolicLink()) tree.set(rel, { type: 'symlink', target: await readlink(full) });
    else if (info.isDirectory()) {
      if (rel !== '.') tree.set(rel, { type: 'dir', mode: info.mode & 0o7777 });
      for (const name of (await readdir(full)).sort()) if (name !== 'restore-began') await walk(path.join(rel, name));
    } else {
      const bytes = await readFile(full);
      if (!inodes.has(info.ino)) inodes.set(info.ino, rel);
      tree.set(rel, {
        type: 'file',
        mode: info.mode & 0o7777,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        inode: inodes.get(info.ino)!,
      });
    }
  };
  await walk('.');
  return tree;
}

async function wipe(): Promise<void> {
  await rm(path.join(data, 'conf'), { recursive: true, force: true });
  await writeFile(path.join(data, 'db.bin'), 'destroyed\n');
  await rm(path.join(data, 'restore-began'), { force: true });
}

/** Runs `work` while sampling the staging filesystem's used bytes; returns the largest seen. */
async function peakStagingUse<T>(dir: string, work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  const used = () => {
    const s = statfsSync(dir);
    return (s.blocks - s.bfree) * s.bsize;
  };
  const base = used();
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, used() - base)), 5);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, used() - base) };
  } finally {
    clearInterval(timer);
  }
}

describe('restore in stream mode: no full local copy', () => {
  it(
    'a backup larger than the free staging space restores (stream mode chosen and said), byte-identical, staging use <= 1 % of the backup',
    async () => {
      await writeData();
      const original = await snapshot();
      const archive = await cluster.backup(cluster.recipes);
      const backupBytes = (await stat(archive)).size;
      expect(backupBytes).toBeGreaterThan(STAGING_BYTES * 50);
      await wipe();

      const { result: r, peak } = await peakStagingUse(smallStaging(), () => cluster.restore(archive, ['--staging-dir', smallStaging(), '--json']));
      expect(r.exitCode, cliOutput(r)).toBe(0);
      const warnings = jsonEvents<{ message: string }>(r.stdout, 'warning').map((w) => w.message);
      expect(warnings.join('\n')).toMatch(/free, staging needs .*: restoring in stream mode/);
      expect(r.stderr).toContain('Stream mode: nothing staged');
      expect(Object.fromEntries(await snapshot())).toEqual(Object.fromEntries(original));
      expect(peak, `staging peak ${peak} B of a ${backupBytes} B backup`).toBeLessThanOrEqual(backupBytes / 100);
    },
    TIMEOUT_MS,
  );

  it(
    '--stream with a damaged archive: refused after the verify pass, before the first host command',
    async () => {
      await writeData();
      const archive = await cluster.backup(cluster.recipes);
      // One byte flipped in the middle of the compressed data; the sidecar is left as it was.
      const file = await open(archive, 'r+');
      try {
        const middle = Math.floor((await file.stat()).size / 2);
        const byte = Buffer.alloc(1);
        await file.read(byte, 0, 1, middle);
        byte[0] = byte[0]! ^ 0xff;
        await file.write(byte, 0, 1, middle);
      } finally {
        await file.close();
      }
      await rm(path.join(data, 'restore-began'), { force: true });
      const r = await cluster.restore(archive, ['--stream', '--staging-dir', smallStaging()]);
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(r.stderr).toMatch(/damaged|corrupt|sha256/);
      await expect(stat(path.join(data, 'restore-began')), 'the restore pre step ran').rejects.toThrow(/ENOENT/);
    },
    TIMEOUT_MS,
  );

  it(
    'an incremental chain (full + 2 incrementals) restores in stream mode, each base read again',
    async () => {
      await writeData();
      const full = await cluster.apply(cluster.recipes, ['--full']);
      expect(full.exitCode, cliOutput(full)).toBe(0);
      await writeFile(path.join(data, 'conf/app.conf'), 'changed once\n');
      await writeFile(path.join(data, 'conf/a/new.bin'), randomBytes(100_000));
      const first = await cluster.apply(cluster.recipes, ['--incremental']);
      expect(first.exitCode, cliOutput(first)).toBe(0);
      await rm(path.join(data, 'conf/b/blob-2.bin'));
      await writeFile(path.join(data, 'conf/a/deep/blob-3.bin'), randomBytes(50_000));
      const second = await cluster.apply(cluster.recipes, ['--incremental']);
      expect(second.exitCode, cliOutput(second)).toBe(0);
      expect(second.metadata?.kind).toBe('incremental');
      expect(second.metadata?.base?.archive).toBe(path.basename(first.archive!));
      // Most bytes are references into the full backup: the restore must read it again.
      expect(second.metadata!.entries.filter((e) => e.ref !== undefined && e.size > 1024 * 1024).length).toBeGreaterThan(2);
      const expected = await snapshot();
      await wipe();

      const r = await cluster.restore(second.archive!, ['--stream', '--staging-dir', smallStaging()]);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(r.stderr).toContain('archives of the chain (3) are read again');
      expect(Object.fromEntries(await snapshot())).toEqual(Object.fromEntries(expected));
    },
    TIMEOUT_MS,
  );
});

describe('restore in stream mode when staging fills up', () => {
  it(
    'no metadata sidecar and data that compressed well (the estimate falls short): staging fills its 80 MiB tmpfs, the restore goes on in stream mode, byte-identical',
    async () => {
      if (optedOut('tmpfs', 'stream mode after staging filled up')) return;
      const full = path.join(cluster.dir, 'fills-up');
      await mkdir(full);
      mountTmpfs(full, 'size=80m,mode=0700');
      try {
        await rm(path.join(data, 'conf'), { recursive: true, force: true });
        await mkdir(path.join(data, 'conf'));
        // 96 MiB of text repeating every 4 KiB: gzip makes little of it, staging needs all of it.
        const block = Buffer.from(randomBytes(2048).toString('hex'));
        await writeFile(path.join(data, 'conf/log.txt'), Buffer.concat(Array.from({ length: 96 * 256 }, () => block)));
        await writeFile(path.join(data, 'db.bin'), randomBytes(1000));
        const original = await snapshot();
        const archive = await cluster.backup(cluster.recipes);
        expect((await stat(archive)).size).toBeLessThan(8 * 1024 * 1024);
        await rm(`${archive}.metadata.json`);
        await wipe();

        const r = await cluster.restore(archive, ['--staging-dir', full]);
        expect(r.exitCode, cliOutput(r)).toBe(0);
        expect(r.stderr).toContain('filled up while staging: restoring in stream mode instead');
        expect(Object.fromEntries(await snapshot())).toEqual(Object.fromEntries(original));
      } finally {
        execFileSync('umount', [full]);
      }
    },
    TIMEOUT_MS,
  );
});

describe('restore in stream mode from a remote target', () => {
  let s3: S3Server | undefined;
  afterAll(async () => {
    await s3?.stop();
  });

  it(
    's3:// on the real Swift S3 server: --stream reads the object twice from S3, byte-identical, staging within its 256 KiB',
    async () => {
      s3 = await startSwiftS3();
      await createBucket(s3, 'lsb-stream');
      const target = s3TargetFlags(s3, 's3://lsb-stream/prod');
      const env = { ...cluster.env, S3_KEY: s3.accessKeyId, S3_SECRET: s3.secretAccessKey };
      const cli = (args: string[]) => runCli(args, { env, timeoutMs: TIMEOUT_MS });

      await writeData();
      const original = await snapshot();
      const applied = await cli(['apply', cluster.recipes, '-b', cluster.build, ...target, '--json']);
      expect(applied.exitCode, cliOutput(applied)).toBe(0);
      const name = jsonEvents<{ name: string }>(applied.stdout, 'archive.stored')[0]!.name;
      await wipe();

      const r = await cli([
        'restore',
        name,
        ...target,
        '-b',
        cluster.build,
        '--recipes',
        cluster.recipes,
        '--yes',
        '--stream',
        '--staging-dir',
        smallStaging(),
      ]);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(r.stderr).toContain('Stream mode: nothing staged');
      expect(Object.fromEntries(await snapshot())).toEqual(Object.fromEntries(original));
    },
    TIMEOUT_MS,
  );
});
