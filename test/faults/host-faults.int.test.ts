/**
 * A host hanging, then dying, in the middle of a collect, for real: the fleet's sshd for host1
 * and the per-connection sshd processes it forked are SIGSTOPped (hung; the step timeout must
 * end it) or SIGKILLed while a 64 MiB tar stream is flowing into the archive. The run must end,
 * exit non-zero naming the host, keep nothing under a final name and leave no temp file.
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

async function signalTree(root: number, signal: NodeJS.Signals): Promise<number[]> {
  const tree = await processTree(root);
  for (const pid of tree) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
  return tree;
}

/** Resolves once the partial archive beside its destination passes 1 MiB: streaming has begun. */
function streaming(target: string): Promise<void> {
  return waitFor(
    async () => {
      const temps = (await readdir(target).catch(() => [] as string[])).filter((n) => n.startsWith('.lsbackup-tmp-'));
      const sizes = await Promise.all(
        temps.map((n) =>
          stat(path.join(target, n)).then(
            (s) => s.size,
            () => 0,
          ),
        ),
      );
      return sizes.some((s) => s > 1024 * 1024);
    },
    120_000,
    'the collect to stream',
  );
}

/** Starts `apply` collecting the 64 MiB data dir from host1; `stepTimeout` bounds the collect. */
async function startCollect(name: string, stepTimeout?: number) {
  const build = path.join(ws.dir, `build-${name}`);
  const target = path.join(ws.dir, `backups-${name}`);
  fleet.writeInventory(build, { host1: ['app'] });
  const timeout = stepTimeout ? `\n      timeout: ${stepTimeout}` : '';
  const recipes = path.dirname(
    await ws.write(
      `recipes-${name}/app.yaml`,
      recipeYaml('app', `hosts: { group: app }\ndetect: "true"\nbackup:\n  collect:\n    - path: ${ws.dir}/data${timeout}\n`),
    ),
  );
  const child = spawnCli(['apply', recipes, '-b', build, '-t', target], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
  return { child, target };
}

/** Failed, naming the host, nothing under a final name and no temp file (the released lock aside). */
async function expectCleanFailure(r: { exitCode?: number; stderr: unknown }, target: string): Promise<void> {
  expect(r.exitCode).toBe(1);
  expect(String(r.stderr)).toMatch(/host1/);
  expect(String(r.stderr)).not.toMatch(/unexpected error/);
  const left = await readdir(target).catch(() => [] as string[]);
  expect(left.filter((n) => !n.startsWith('.lsbackup.lock'))).toEqual([]);
}

describe('a host hung mid-stream (SIGSTOP of its sshd and session processes)', () => {
  it('the step timeout ends the run, naming the host; nothing under a final name', async () => {
    const { child, target } = await startCollect('hung', 15);
    let stopped: number[] = [];
    try {
      await streaming(target);
      stopped = await signalTree(fleet.hosts[0]!.pid, 'SIGSTOP');
      await expectCleanFailure(await child, target);
    } finally {
      child.kill('SIGKILL');
      for (const pid of stopped) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
    }
  }, 300_000);
});

describe('a host killed mid-stream', () => {
  it('ends the run with the host named, no archive under a final name, no temp file', async () => {
    const { child, target } = await startCollect('killed');
    try {
      try {
        await streaming(target);
      } finally {
        await signalTree(fleet.hosts[0]!.pid, 'SIGKILL');
      }
      await expectCleanFailure(await child, target);
    } finally {
      child.kill('SIGKILL'); // a no-op once it has exited
    }
  }, 300_000);
});
