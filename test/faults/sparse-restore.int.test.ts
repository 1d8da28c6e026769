/**
 * A sparse file (a preallocated ZooKeeper txn log, a Kafka index, a VM image) comes back from a
 * restore sparse: the same bytes, and about the blocks the original had — not its whole size
 * allocated (a 64 GiB sparse file restored dense can fill the disk it came from). Checked on a
 * local host and on a host of the real sshd fleet (writes go through SSH and sudo), for tar.gz
 * and zip backups, restoring from the target, from a copy made with `get`, after `verify`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';

const SIZE = 64 * 1024 * 1024;
const ISLANDS = [5 * 1024 * 1024, 40 * 1024 * 1024 + 4096];
const MIB = 1024 * 1024;

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Bytes the filesystem allocated for `file` (st_blocks is in 512-byte units). */
async function allocated(file: string): Promise<number> {
  return (await stat(file)).blocks * 512;
}

/** 64 MiB with 4 KiB of data at two offsets; everything else a hole. */
async function writeSparse(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const handle = await open(file, 'w', 0o640);
  try {
    for (const [i, at] of ISLANDS.entries()) await handle.write(Buffer.alloc(4096, 0x41 + i), 0, 4096, at);
    await handle.truncate(SIZE);
  } finally {
    await handle.close();
  }
}

describe.each(['local', 'ssh'] as const)('a sparse file is restored sparse (%s host)', (kind) => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let fleet: Fleet | undefined;
  let build: string;
  let data: string;
  let sparse: string;
  let digest: string;

  beforeAll(async () => {
    ws = await workspace('lsb-sparse-restore-');
    build = path.join(ws.dir, 'build');
    data = path.join(ws.dir, 'data');
    sparse = path.join(data, 'version-2', 'log.1');
    if (kind === 'ssh') {
      fleet = await startFleet({ hosts: 1 });
      fleet.writeInventory(build, { host1: ['app'] });
    } else {
      await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    }
    await ws.write('data/small.txt', 'not sparse\n');
    await writeSparse(sparse);
    digest = await sha256(sparse);
    // The filesystem under the test keeps holes (else the test proves nothing).
    expect(await allocated(sparse)).toBeLessThan(MIB);
    await ws.write(
      'recipes/app.yaml',
      recipeYaml(
        'app',
        `hosts: { group: app }\n${kind === 'ssh' ? 'become: true\n' : ''}backup:\n  collect:\n    - path: "${data}"\nrestore:\n  apply:\n    - files: "${data}"\n`,
      ),
    );
  }, 180_000);
  afterAll(async () => {
    await fleet?.stop();
    await ws?.cleanup();
  });

  let runs = 0;
  const backup = async (format: 'tar.gz' | 'zip') => {
    const out = path.join(ws.dir, `backups-${++runs}`);
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', build, '-t', out, '--format', format], { timeoutMs: 180_000 });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    return path.join(
      out,
      (await readdir(out)).find((f) => f.endsWith(`.${format}`))!,
    );
  };
  const restoreAndCheck = async (archive: string) => {
    await rm(data, { recursive: true, force: true });
    const r = await runCli(['restore', archive, '-b', build, '--yes', '--recipes', path.join(ws.dir, 'recipes')], { timeoutMs: 180_000 });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect((await stat(sparse)).size).toBe(SIZE);
    expect(await sha256(sparse)).toBe(digest);
    expect(await allocated(sparse), 'allocated bytes of the restored 64 MiB file').toBeLessThan(MIB);
    expect((await stat(sparse)).mode & 0o7777).toBe(0o640);
  };

  it('tar.gz: verify passes, restore brings back the same bytes with holes', async () => {
    const archive = await backup('tar.gz');
    const v = await runCli(['verify', archive]);
    expect(v.exitCode, cliOutput(v)).toBe(0);
    // The archive holds the logical content (metadata's sha256 is over all 64 MiB), as any tar reads it.
    const entry = `app/${kind === 'ssh' ? 'host1' : 'localhost'}/files${sparse}`;
    const listed = await execa('tar', ['tzvf', archive, entry]);
    expect(listed.stdout).toContain(String(SIZE));
    await restoreAndCheck(archive);
  }, 300_000);

  it('tar.gz: a copy fetched with get restores sparse too', async () => {
    const archive = await backup('tar.gz');
    const copy = path.join(ws.dir, 'fetched');
    await mkdir(copy, { recursive: true });
    const g = await runCli(['get', archive, copy]);
    expect(g.exitCode, cliOutput(g)).toBe(0);
    await restoreAndCheck(path.join(copy, path.basename(archive)));
  }, 300_000);

  it('zip (no sparse entries in the format): restore still writes holes', async () => {
    const archive = await backup('zip');
    const v = await runCli(['verify', archive]);
    expect(v.exitCode, cliOutput(v)).toBe(0);
    await restoreAndCheck(archive);
  }, 300_000);
});
