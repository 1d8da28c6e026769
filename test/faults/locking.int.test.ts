/**
 * Concurrency: two real `lsbackup apply` processes against the same cluster and target. The
 * second fails clearly (or waits with --lock-wait); a stale lock (dead pid, reused pid) is
 * taken over with a warning; a lock held on another machine is never taken over; a run killed
 * with SIGKILL leaves temp files that the next run removes; retention's withTargetLock waits
 * for a running backup. The cluster lock is one for every user of the machine (a second user,
 * lsbnosudo, runs the CLI through runuser), also where /run/lock is root's 0755 (RHEL), and
 * one with an older lsbackup's, which kept it in /run/lock itself.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliOutput, cliPath, recipeYaml, repoRoot, runCli, spawnCli, workspace } from '../helpers/cli.js';
import { waitFor } from './support.js';
import { acquireLock, clusterLockFile, currentOwner, DEFAULT_MACHINE_LOCK_DIR, withTargetLock, processStartMs } from '../../engine/lock/index.js';
import { openTarget } from '../../targets/registry.js';
import { ensureTestUsers, NOSUDO_USER } from '../fleet/fleet.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let target: string;
let recipes: string;
let ready: string;
let env: Record<string, string>;

beforeEach(async () => {
  ws = await workspace('lsb-faults-lock-');
  build = path.join(ws.dir, 'build');
  target = path.join(ws.dir, 'backups');
  recipes = path.join(ws.dir, 'recipes');
  ready = path.join(ws.dir, 'running');
  // The compile cache in the workspace; the cluster lock (in /run/lock/lsbackup) is this test's own, keyed on its inventory's path.
  env = { XDG_CACHE_HOME: path.join(ws.dir, 'cache') };
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app }
detect: "true"
vars:
  hold: 0
backup:
  pre:
    - run: touch ${ready}; sleep {{vars.hold}}
  snapshot:
    - run: head -c 3000000 /dev/urandom
      output: data.bin
`,
    ),
  );
});
afterEach(async () => ws.cleanup());

const archives = async () => (await readdir(target).catch(() => [] as string[])).filter((n) => n.endsWith('.tar.gz') && !n.startsWith('.')).sort();
const applyArgs = (...extra: string[]) => ['apply', recipes, '-b', build, '-t', target, ...extra];

/** SIGKILLs the process group of the step whose command line mentions `marker`. */
async function killStepGroup(marker: string): Promise<void> {
  const ps = (await execa('ps', ['-eww', '-o', 'pid=,pgid=,args='])).stdout;
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m && m[3]!.includes(marker) && Number(m[1]) === Number(m[2])) {
      try {
        process.kill(-Number(m[2]), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** Starts a run that holds its locks for `hold` seconds; resolves once it is inside the step. */
async function holdingRun(hold: number) {
  const child = spawnCli(applyArgs('--var', `app.hold=${hold}`), { env });
  await waitFor(() => existsSync(ready), 90_000, 'the first run to start its step');
  // Wrapped: execa's result is a thenable, and an async function returning it would wait for the exit.
  return { child };
}

describe('two runs at once', () => {
  it('the second fails clearly, naming the holder; the first is unharmed', async () => {
    const { child: first } = await holdingRun(20);
    try {
      const second = await runCli(applyArgs(), { env });
      expect(second.exitCode).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`is in use by another lsbackup run: pid ${first.pid} on ${os.hostname()}`));
      expect(second.stderr).toMatch(/--lock-wait/);
    } finally {
      const r = await first;
      expect(r.exitCode, String(r.stderr)).toBe(0);
    }
    expect(await archives()).toHaveLength(1);
  }, 180_000);

  it('a build dir reached through a symlink is the same cluster (the lock is keyed on its real path)', async () => {
    const linked = path.join(ws.dir, 'build-link');
    await execa('ln', ['-s', build, linked]);
    const { child: first } = await holdingRun(20);
    try {
      // Another target, so only the cluster lock can stop it.
      const second = await runCli(['apply', recipes, '-b', linked, '-t', path.join(ws.dir, 'other')], { env });
      expect(second.exitCode, second.stderr).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`cluster \\S+ is in use by another lsbackup run: pid ${first.pid}`));
    } finally {
      expect((await first).exitCode).toBe(0);
    }
  }, 180_000);

  it('with --lock-wait the second waits, then stores its own archive under another name', async () => {
    const { child: first } = await holdingRun(4);
    const second = await runCli(applyArgs('--lock-wait', '120'), { env, timeoutMs: 180_000 });
    expect((await first).exitCode).toBe(0);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/is locked by pid \d+ .*waiting up to 120 s/);
    const names = await archives();
    expect(names).toHaveLength(2);
    for (const n of names) await execa('sha256sum', ['-c', `${n}.sha256`], { cwd: target });
  }, 240_000);

  it('SIGTERM while waiting with --lock-wait stops the run at once (exit 1, interrupted), not when the wait ends', async () => {
    const { child: first } = await holdingRun(120);
    const second = spawnCli(applyArgs('--lock-wait', '600'), { env });
    try {
      let stderr = '';
      second.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitFor(() => /waiting up to 600 s/.test(stderr), 60_000, 'the second run to wait for the lock');
      // Sent directly: execa's kill() would follow up with a SIGKILL of its own after 5 s.
      process.kill(second.pid!, 'SIGTERM');
      // Before, the wait went on to its end (or the holder's): a stop (systemd, Kubernetes) ran into its SIGKILL.
      const r = await second;
      expect(r.exitCode, String(r.stderr)).toBe(1);
      expect(r.stderr).toMatch(/Interrupted by SIGTERM; nothing was started: it was waiting for the lock of/);
      expect(first.exitCode).toBeNull();
    } finally {
      second.kill('SIGKILL');
      first.kill('SIGTERM');
      await Promise.all([second, first]);
    }
    expect(await archives()).toEqual([]);
  }, 120_000);

  it('retention (withTargetLock) never runs while a backup holds the target', async () => {
    const { child: first } = await holdingRun(5);
    const t = await openTarget(target);
    try {
      await expect(withTargetLock(t, { waitMs: 0 }, async () => 'pruned')).rejects.toThrow(/is in use by another lsbackup run/);
      let sawArchive = false;
      const result = await withTargetLock(t, { waitMs: 120_000, pollMs: 200 }, async () => {
        sawArchive = (await archives()).length === 1; // the backup is complete before prune may look
        return 'pruned';
      });
      expect(result).toBe('pruned');
      expect(sawArchive).toBe(true);
    } finally {
      expect((await first).exitCode).toBe(0);
    }
  }, 240_000);
});

/**
 * The systemd unit (User=lsbackup) and an admin's `sudo lsbackup apply` on one controller: the
 * cluster lock was under each user's cache dir, so both ran at once (pre pre post post).
 */
describe('two users (or cache dirs) of one machine', () => {
  const otherUser = NOSUDO_USER;
  /** Another user's own target and cache dir; the workspace readable by it (mkdtemp made it 0700). */
  async function otherUsersRun() {
    ensureTestUsers();
    await chmod(ws.dir, 0o755);
    const { uid, gid } = await userIds(otherUser);
    const own = async (name: string) => {
      const dir = path.join(ws.dir, name);
      await mkdir(dir, { recursive: true });
      await chown(dir, uid, gid);
      return dir;
    };
    return { target: await own('other-target'), env: { XDG_CACHE_HOME: await own('other-cache') } };
  }

  it("a run of another user, or with another $XDG_CACHE_HOME, meets the cluster's lock and names its holder and user", async () => {
    const other = await otherUsersRun();
    const { child: first } = await holdingRun(30);
    try {
      const holder = new RegExp(`cluster \\S+ is in use by another lsbackup run: pid ${first.pid} on ${os.hostname()} \\(user root\\)`);
      // Another target, so only the cluster lock can stop them.
      const asOtherUser = await runCli(['apply', recipes, '-b', build, '-t', other.target], { env: other.env, user: otherUser });
      expect(asOtherUser.exitCode, cliOutput(asOtherUser)).toBe(1);
      expect(asOtherUser.stderr).toMatch(holder);
      const otherCache = await runCli(['apply', recipes, '-b', build, '-t', path.join(ws.dir, 'other')], {
        env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache-b') },
      });
      expect(otherCache.exitCode, cliOutput(otherCache)).toBe(1);
      expect(otherCache.stderr).toMatch(holder);
    } finally {
      expect((await first).exitCode).toBe(0);
    }
    expect(await readdir(other.target)).toEqual([]);
  }, 240_000);

  it('a stale lock of another user that this user may not remove fails clearly, naming the file; root takes it over', async () => {
    const other = await otherUsersRun();
    // Sticky and world-writable as /run/lock/lsbackup, but this test's own.
    const lockDir = path.join(ws.dir, 'locks');
    await mkdir(lockDir);
    await chmod(lockDir, 0o1777);
    const lockEnv = { LSBACKUP_LOCK_DIR: lockDir };
    // Named as the run names it: keyed on the inventory file's real path.
    const lockFile = path.join(lockDir, path.basename(clusterLockFile(path.join(build, 'inventory'))));
    const dead = Number((await execa('sh', ['-c', 'echo $$'])).stdout.trim());
    await writeFile(lockFile, JSON.stringify({ pid: dead, hostname: os.hostname(), user: 'root', acquiredAt: '2020-01-01T00:00:00Z', command: 'apply' }), {
      mode: 0o644,
    });

    const r = await runCli(['apply', recipes, '-b', build, '-t', other.target], { env: { ...other.env, ...lockEnv }, user: otherUser });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toContain(`is locked by pid ${dead} on ${os.hostname()} (user root)`);
    expect(r.stderr).toContain(`which is gone (process ${dead} is gone), but this run (user ${otherUser}) may not remove ${lockFile}`);
    expect(r.stderr).toContain(`Remove it as that user or root (rm ${lockFile})`);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(existsSync(lockFile)).toBe(true);
    expect(await readdir(other.target)).toEqual([]);

    const asRoot = await runCli(applyArgs(), { env: { ...env, ...lockEnv } });
    expect(asRoot.exitCode, cliOutput(asRoot)).toBe(0);
    expect(asRoot.stderr).toMatch(new RegExp(`taking over the stale lock of cluster .*process ${dead} is gone`));
    expect(existsSync(lockFile)).toBe(false);
  }, 240_000);

  it("where /run/lock is root's 0755 (RHEL), the lock directory made by the shipped tmpfiles.d snippet, or by root's run whatever its umask, serves the unit's user", async () => {
    const other = await otherUsersRun();
    // A system root whose /run/lock is RHEL's; the runs are pointed at its lsbackup lock directory.
    const sysroot = path.join(ws.dir, 'rhel');
    await mkdir(path.join(sysroot, path.dirname(DEFAULT_MACHINE_LOCK_DIR)), { recursive: true });
    await chmod(path.join(sysroot, path.dirname(DEFAULT_MACHINE_LOCK_DIR)), 0o755);
    const lockDir = path.join(sysroot, DEFAULT_MACHINE_LOCK_DIR);
    const lockEnv = { LSBACKUP_LOCK_DIR: lockDir };
    // The step's marker, one the other user's step may touch.
    await writeFile(ready, '');
    await chmod(ready, 0o666);
    const asOtherUser = () => runCli(['apply', recipes, '-b', build, '-t', other.target], { env: { ...other.env, ...lockEnv }, user: otherUser });
    const modeAndOwner = async () => {
      const s = await stat(lockDir);
      return { directory: s.isDirectory(), mode: (s.mode & 0o7777).toString(8), uid: s.uid };
    };
    const sharedByRoot = { directory: true, mode: '1777', uid: 0 };

    // Nobody made it: the unit's user cannot, and is told how (the snippet's own line).
    const snippet = await readFile(path.join(repoRoot, 'deploy/systemd/tmpfiles.d/lsbackup.conf'), 'utf8');
    const line = /^d \S+ .*$/m.exec(snippet)![0];
    expect(line).toBe(`d ${DEFAULT_MACHINE_LOCK_DIR} 1777 root root -`);
    const before = await asOtherUser();
    expect(before.exitCode, cliOutput(before)).toBe(1);
    expect(before.stderr).toMatch(new RegExp(`Cannot take the lock of cluster \\S+: writing ${lockDir}/lsbackup-cluster-\\w+\\.lock failed \\(EACCES`));
    expect(before.stderr).toContain(
      `put the line "${line.replace(DEFAULT_MACHINE_LOCK_DIR, lockDir)}" in /etc/tmpfiles.d/lsbackup.conf and run systemd-tmpfiles --create lsbackup.conf`,
    );
    expect(existsSync(lockDir)).toBe(false);

    // Installed and applied as docs/deploy.md says (at boot, systemd-tmpfiles-setup does the same).
    await mkdir(path.join(sysroot, 'etc/tmpfiles.d'), { recursive: true });
    await writeFile(path.join(sysroot, 'etc/tmpfiles.d/lsbackup.conf'), snippet);
    await execa('systemd-tmpfiles', ['--create', `--root=${sysroot}`, 'lsbackup.conf']);
    expect(await modeAndOwner()).toEqual(sharedByRoot);
    const withSnippet = await asOtherUser();
    expect(withSnippet.exitCode, cliOutput(withSnippet)).toBe(0);
    expect(await readdir(lockDir)).toEqual([]); // taken there, and released

    // No snippet: root's run (a unit's UMask=0077) makes it, for every user.
    await rm(lockDir, { recursive: true });
    const asRoot = await execa('sh', ['-c', 'umask 077 && exec "$@"', 'sh', process.execPath, cliPath, ...applyArgs()], {
      env: { ...env, ...lockEnv },
      reject: false,
    });
    expect(asRoot.exitCode, String(asRoot.stderr)).toBe(0);
    expect(await modeAndOwner()).toEqual(sharedByRoot);
    const afterRoot = await asOtherUser();
    expect(afterRoot.exitCode, cliOutput(afterRoot)).toBe(0);
    expect((await readdir(other.target)).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(2);
  }, 240_000);

  it('a lock directory this user may not write fails the run before anything runs, saying how to fix it (never a run without the lock)', async () => {
    const other = await otherUsersRun();
    const lockDir = path.join(ws.dir, 'root-only-locks');
    await mkdir(lockDir, { mode: 0o755 });
    const r = await runCli(['apply', recipes, '-b', build, '-t', other.target], { env: { ...other.env, LSBACKUP_LOCK_DIR: lockDir }, user: otherUser });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`Cannot take the lock of cluster \\S+: writing ${lockDir}/lsbackup-cluster-\\w+\\.lock failed \\(EACCES`));
    expect(r.stderr).toContain(`Every user who runs lsbackup on this machine takes these locks in ${lockDir}`);
    expect(r.stderr).toContain('LSBACKUP_LOCK_DIR');
    expect(existsSync(ready)).toBe(false);
    expect(await readdir(other.target)).toEqual([]);
  }, 120_000);
});

/**
 * lsbackup 0.1.0 kept its machine-wide locks in /run/lock itself: one still running after an
 * upgrade (a scheduler not restarted) must exclude a newer run, and the newer run it.
 */
describe('an older lsbackup, whose locks are in /run/lock itself', () => {
  it('holding the cluster lock there, a newer run meets it; a newer run holds that file too, where the older one looks', async () => {
    const newer = clusterLockFile(path.join(build, 'inventory'));
    expect(path.dirname(newer)).toBe(DEFAULT_MACHINE_LOCK_DIR);
    const older = path.join(path.dirname(DEFAULT_MACHINE_LOCK_DIR), path.basename(newer));
    // As 0.1.0 writes it, held by a live process (this test's).
    await writeFile(older, JSON.stringify({ ...currentOwner(), command: 'apply' }), { mode: 0o644 });
    try {
      const r = await runCli(applyArgs(), { env });
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(r.stderr).toContain(`is in use by another lsbackup run: pid ${process.pid} on ${os.hostname()}`);
      expect(r.stderr).toContain(`(lock ${older})`);
      expect(await archives()).toEqual([]);
    } finally {
      await rm(older, { force: true });
    }

    const { child } = await holdingRun(20);
    try {
      expect(JSON.parse(await readFile(older, 'utf8')).pid).toBe(child.pid);
      expect(JSON.parse(await readFile(newer, 'utf8')).pid).toBe(child.pid);
    } finally {
      expect((await child).exitCode).toBe(0);
    }
    expect(existsSync(older)).toBe(false);
    expect(existsSync(newer)).toBe(false);
  }, 180_000);

  it("where this user may not write there (RHEL's root-only /run/lock), that lock is skipped, but one an older root run holds is still met", async () => {
    ensureTestUsers();
    await chmod(ws.dir, 0o755);
    // Stands in for RHEL's /run/lock: root's, 0755.
    const rootOnly = path.join(ws.dir, 'run-lock');
    await mkdir(rootOnly, { mode: 0o755 });
    const older = path.join(rootOnly, 'lsbackup-cluster-0123456789abcdef.lock');
    // The lock as withLocks takes an older version's (the built module, run as the unit's user would).
    const script = `const { acquireLock } = await import(${JSON.stringify(path.join(repoRoot, 'dist/engine/lock/lock-file.js'))});
      try { await (await acquireLock(process.argv[1], { what: 'cluster c', waitMs: 0, skipIfUnwritable: true })).release(); console.log('skipped'); }
      catch (e) { console.log(e.message); }`;
    const take = async () => (await execa('runuser', ['-u', NOSUDO_USER, '--', process.execPath, '--input-type=module', '-e', script, older])).stdout;
    expect(await take()).toBe('skipped');
    expect(existsSync(older)).toBe(false);
    // No /run/lock at all (a container): no older run holds it there, and root's run does not make it (0700, it would shut other users out).
    const missing = path.join(ws.dir, 'no-run-lock');
    await (await acquireLock(path.join(missing, path.basename(older)), { what: 'cluster c', waitMs: 0, skipIfUnwritable: true })).release();
    expect(existsSync(missing)).toBe(false);
    await writeFile(older, JSON.stringify({ ...currentOwner(), command: 'apply' }), { mode: 0o644 });
    expect(await take()).toContain(`cluster c is in use by another lsbackup run: pid ${process.pid} on ${os.hostname()} (user root)`);
  }, 60_000);
});

describe('two runs in one process (the jobs of `lsbackup schedule`)', () => {
  it("the second waits for the first to release, even with no --lock-wait: never fails on its own process's lock", async () => {
    await ws.write('backups/.keep', '');
    const t = await openTarget(target);
    const order: string[] = [];
    let releaseFirst!: () => void;
    const firstMayEnd = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstHolds!: () => void;
    const firstHolding = new Promise<void>((resolve) => (firstHolds = resolve));
    const first = withTargetLock(t, { waitMs: 0 }, async () => {
      order.push('first in');
      firstHolds();
      await firstMayEnd;
      order.push('first out');
    });
    await firstHolding;
    const second = withTargetLock(t, { waitMs: 0 }, async () => void order.push('second in'));
    // The first holds on a while, so the second meets the held lock (the order asserted holds
    // however long this takes).
    setTimeout(releaseFirst, 500);
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
    expect(existsSync(path.join(target, '.lsbackup.lock'))).toBe(false);
  });
});

describe('stale locks', () => {
  const lockFile = () => path.join(target, '.lsbackup.lock');
  const plant = async (owner: Record<string, unknown>) => {
    await ws.write('backups/.keep', '');
    await writeFile(lockFile(), JSON.stringify({ acquiredAt: '2020-01-01T00:00:00Z', command: 'apply', ...owner }));
  };

  it('a dead pid on this host is taken over with a warning', async () => {
    const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim();
    await plant({ pid: Number(dead), hostname: os.hostname() });
    const r = await runCli(applyArgs(), { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`taking over the stale lock of target .*process ${dead} is gone`));
    expect(existsSync(lockFile())).toBe(false); // released at the end
  }, 120_000);

  it('a live pid that now belongs to another process (pid reuse) is taken over', async () => {
    await plant({ pid: process.pid, hostname: os.hostname(), processStart: processStartMs(process.pid)! - 3_600_000 });
    const r = await runCli(applyArgs(), { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/now belongs to another process/);
  }, 120_000);

  it('a lock held on another machine is never taken over', async () => {
    await plant({ pid: 1, hostname: 'some-other-host.example' });
    const r = await runCli(applyArgs('--lock-wait', '1'), { env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/in use by another lsbackup run: pid 1 on some-other-host\.example/);
    expect(JSON.parse(await readFile(lockFile(), 'utf8')).hostname).toBe('some-other-host.example');
    expect(await archives()).toHaveLength(0);
  }, 120_000);
});

describe('lsbackup killed with SIGKILL', () => {
  it('leaves no archive under a final name; the next run takes over its lock and removes its temp files', async () => {
    const { child } = await holdingRun(30);
    const tempsBefore = (await readdir(target)).filter((n) => n.startsWith('.lsbackup-tmp-'));
    expect(tempsBefore.length).toBeGreaterThan(0); // the partial archive beside its destination
    child.kill('SIGKILL');
    const killed = await child;
    expect(killed.signal, String(killed.stderr)).toBe('SIGKILL');
    // The killed run's step (`sh -c 'touch <ready>; sleep 30'`, its own process group) is
    // orphaned now: end that group, found by the unique path in its command line.
    await killStepGroup(ready);
    expect(await archives()).toHaveLength(0);
    expect(existsSync(path.join(target, '.lsbackup.lock'))).toBe(true);

    await rm(ready);
    const next = await runCli(applyArgs(), { env });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/taking over the stale lock/);
    expect(next.stderr).toMatch(/removed \d+ leftover\(s\) of interrupted runs: \.lsbackup-tmp-/);
    const left = (await readdir(target)).filter((n) => n.startsWith('.lsbackup-tmp-'));
    expect(left).toEqual([]);
    expect(await archives()).toHaveLength(1);
  }, 240_000);
});

/** A user's uid and gid, from `id`. */
async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await execa('id', [flag, user])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}
