import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, isAlive, launchServer, pathExists, processesMentioning, reapOrphans, sleep, spawnServer } from './servers/common.js';
import { spawnSync } from 'node:child_process';

const viteNode = join(process.cwd(), 'node_modules', '.bin', 'vite-node');
const script = join(import.meta.dirname, 'fixtures', 'helpers', 'start-and-leave.ts');

/** Runs the fixture in a child process; resolves with the etcd pid it printed (and the child). */
function startChild(mode: string): Promise<{ pid: number; baseDir: string; child: ReturnType<typeof spawn> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(viteNode, [script, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^(\d+) (\S+)\n/.exec(out);
      if (m) resolve({ pid: Number(m[1]), baseDir: m[2]!, child });
    });
    child.on('error', reject);
    child.on('exit', (code) => !/^\d+ /.test(out) && reject(new Error(`child exited ${code} before printing a pid`)));
  });
}

async function expectGoneSoon(pid: number): Promise<void> {
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  expect(isAlive(pid)).toBe(false);
}

describe('server helpers', () => {
  it('gives distinct free ports', async () => {
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
  });

  it('kills a server the test forgot to stop when the test process exits', async () => {
    const { pid, baseDir } = await startChild('exit');
    await expectGoneSoon(pid);
    await rm(baseDir, { recursive: true, force: true });
  });

  it('kills a server when the test process is ended by SIGTERM', async () => {
    const { pid, baseDir, child } = await startChild('wait-for-signal');
    expect(isAlive(pid)).toBe(true);
    child.kill('SIGTERM');
    await expectGoneSoon(pid);
    await rm(baseDir, { recursive: true, force: true });
  });

  it('a start that never answers fails within its bound, shows the log, and leaves no process', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'lsb-infra-helpers-'));
    const logFile = join(baseDir, 'server.log');
    await writeFile(logFile, '');
    const t0 = Date.now();
    await expect(
      launchServer({
        what: 'never-ready',
        command: 'sh',
        args: ['-c', `echo listening nowhere; exec sleep 60 # ${baseDir}`],
        baseDir,
        ownedHere: true,
        logFile,
        ready: async () => false,
        timeoutMs: 700,
      }),
    ).rejects.toThrow(/never-ready: no answer within 700 ms[\s\S]*listening nowhere/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(processesMentioning(baseDir)).toEqual([]);
  });

  it('reports a server that dies during start-up at once, with its log', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'lsb-infra-helpers-'));
    const logFile = join(baseDir, 'server.log');
    await writeFile(logFile, '');
    await expect(
      launchServer({
        what: 'crashing',
        command: 'sh',
        args: ['-c', 'echo bad config >&2; exit 3'],
        baseDir,
        ownedHere: true,
        logFile,
        ready: async () => false,
        timeoutMs: 30_000,
      }),
    ).rejects.toThrow(/crashing: the process exited during start-up[\s\S]*bad config/);
  });

  it('reaps the processes and temp dir a SIGKILLed test process left behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lsb-infra-orphan-'));
    const deadPid = spawnSync('true').pid!; // a pid that has certainly exited
    await writeFile(join(dir, '.owner-pid'), `${deadPid}\n`);
    const orphan = spawnServer('sleep', ['60'], { logFile: join(dir, 'log'), cwd: dir }); // found by its cwd
    const live = await mkdtemp(join(tmpdir(), 'lsb-infra-live-'));
    await writeFile(join(live, '.owner-pid'), `${process.pid}\n`);
    try {
      expect(await reapOrphans()).toContain(dir);
      await expectGoneSoon(orphan);
      expect(await pathExists(dir)).toBe(false);
      expect(await pathExists(live)).toBe(true); // its owner (this process) lives
    } finally {
      await rm(live, { recursive: true, force: true });
    }
  });
});
