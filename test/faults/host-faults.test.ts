/**
 * A host dying in the middle of a collect, for real: the fleet's sshd for host1 and the
 * per-connection sshd processes it forked are SIGKILLed while a 64 MiB tar stream is flowing
 * into the archive. The run must end (no hang), exit non-zero naming the host, keep nothing
 * under a final name and leave no temp file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { recipeYaml, spawnCli, workspace } from '../helpers/cli.js';
import { waitFor } from './support.js';

let fleet: Fleet;
let ws: Awaited<ReturnType<typeof workspace>>;

beforeAll(async () => {
  fleet = await startFleet({ hosts: 1 });
  ws = await workspace('lsb-faults-host-');
  await execa('sh', ['-c', `mkdir -p '${ws.dir}/data' && head -c 67108864 /dev/urandom > '${ws.dir}/data/big.bin' && chmod -R a+rX '${ws.dir}'`]);
}, 120_000);
afterAll(async () => {
  await fleet?.stop();
  await ws?.cleanup();
});

/** The pid and every descendant, from one ps snapshot. */
async function processTree(root: number): Promise<number[]> {
  const rows = (await execa('ps', ['-eo', 'pid=,ppid='])).stdout.split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of rows) if (ppid === tree[i]) tree.push(pid!);
  return tree;
}

describe('a host killed mid-stream', () => {
  it('ends the run with the host named, no archive under a final name, no temp file', async () => {
    const build = path.join(ws.dir, 'build');
    const target = path.join(ws.dir, 'backups');
    fleet.writeInventory(build, { host1: ['app'] });
    await ws.write(
      'recipes/app.yaml',
      recipeYaml('app', `hosts: { group: app }\ndetect: "true"\nbackup:\n  collect:\n    - path: ${ws.dir}/data\n`),
    );
    const child = spawnCli(['apply', path.join(ws.dir, 'recipes'), '-b', build, '-t', target, '-f', 'tar.gz'], {
      env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') },
    });
    try {
      // Streaming has begun once the partial archive beside its destination passes 1 MiB.
      await waitFor(async () => {
        const temps = (await readdir(target).catch(() => [] as string[])).filter((n) => n.startsWith('.lsbackup-tmp-'));
        const sizes = await Promise.all(temps.map((n) => stat(path.join(target, n)).then((s) => s.size, () => 0)));
        return sizes.some((s) => s > 1024 * 1024);
      }, 120_000, 'the collect to stream');
    } finally {
      for (const pid of await processTree(fleet.hosts[0]!.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/host1/);
    expect(String(r.stderr)).not.toMatch(/unexpected error/);
    const left = await readdir(target).catch(() => [] as string[]);
    expect(left.filter((n) => !n.startsWith('.lsbackup.lock'))).toEqual([]);
  }, 300_000);
});
