/**
 * Restore onto a rebuilt host (disaster recovery): the host died, was reinstalled, and last
 * night's backup goes back onto it. Its service users and groups were created again, possibly
 * with other numbers, or not yet. Real users and groups (useradd/groupadd on this machine, names
 * unique to the run, removed afterwards), the host's real tar, a local host and a host of the
 * real sshd fleet (writes through SSH and sudo; the fleet shares this machine's users).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cliPath, recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';

const KINDS = ['local', 'ssh'] as const;

/** An id no user and no group has on this machine. */
function freeId(taken: Set<number>): number {
  for (let id = 20000 + Math.floor(Math.random() * 30000); ; id++) {
    if (taken.has(id)) continue;
    const used = ['passwd', 'group'].some((db) => {
      try {
        execFileSync('getent', [db, String(id)], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    taken.add(id);
    if (!used) return id;
  }
}

const sh = (command: string, ...args: string[]) => execFileSync(command, args, { stdio: 'pipe' });
const removeUser = (name: string) => {
  try {
    sh('userdel', name);
  } catch {
    /* not there */
  }
};
const removeGroup = (name: string) => {
  try {
    sh('groupdel', name);
  } catch {
    /* not there */
  }
};

describe.each(KINDS)('restore onto a rebuilt host (%s host)', (kind) => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let fleet: Fleet | undefined;
  let build: string;
  let data: string;
  let archive: string;
  const suffix = `${kind[0]}${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  const user = `lsbsvc${suffix}`;
  const group = `lsbgrp${suffix}`;
  const taken = new Set<number>();
  const old = { uid: 0, gid: 0 };

  beforeAll(async () => {
    ws = await workspace('lsb-rebuilt-host-');
    build = path.join(ws.dir, 'build');
    data = path.join(ws.dir, 'data');
    if (kind === 'ssh') {
      fleet = await startFleet({ hosts: 1 });
      fleet.writeInventory(build, { host1: ['app'] });
    } else await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    // One component: collects the data directory, restores it (or the part `subset` names).
    const spec = [`hosts: { group: app }`, kind === 'ssh' ? 'become: true' : '', `vars: { subset: "${data}" }`];
    spec.push('backup:', '  collect:', `    - path: "${data}"`, 'restore:', '  apply:', '    - files: "{{vars.subset}}"');
    await ws.write('recipes/app.yaml', recipeYaml('app', spec.filter(Boolean).join('\n') + '\n'));
    // The old host: the service's user and group own its data directory.
    old.uid = freeId(taken);
    old.gid = freeId(taken);
    sh('groupadd', '-g', String(old.gid), group);
    sh('useradd', '-M', '-N', '-u', String(old.uid), '-g', group, user);
    await mkdir(path.join(data, 'owned'), { recursive: true });
    await writeFile(path.join(data, 'owned/db.conf'), 'data\n');
    await writeFile(path.join(data, 'plain.txt'), 'root owns this\n');
    for (const p of ['owned', 'owned/db.conf']) await chown(path.join(data, p), old.uid, old.gid);
    // A shared data directory (setgid: new files take its group) and a setuid program.
    await chmod(path.join(data, 'owned'), 0o2750);
    await writeFile(path.join(data, 'tool'), '#!/bin/sh\n');
    await chmod(path.join(data, 'tool'), 0o4755);
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', build, '-t', path.join(ws.dir, 'backups')]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    archive = path.join(
      ws.dir,
      'backups',
      (await readdir(path.join(ws.dir, 'backups'))).find((f) => f.endsWith('.tar.gz'))!,
    );
  }, 180_000);

  afterAll(async () => {
    removeUser(user);
    removeUser(`${user}x`);
    removeGroup(group);
    removeGroup(`${group}x`);
    await fleet?.stop();
    await ws?.cleanup();
  });

  const restore = async (extra: string[] = []) => {
    const r = await runCli(['restore', archive, '-b', build, '--yes', '--recipes', path.join(ws.dir, 'recipes'), ...extra], { timeoutMs: 180_000 });
    return { ...r, all: `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}` };
  };

  it('gives the files the user and group of the same name, whatever numbers the rebuilt host gave them', async () => {
    removeUser(user);
    removeGroup(group);
    const now = { uid: freeId(taken), gid: freeId(taken) };
    sh('groupadd', '-g', String(now.gid), group);
    sh('useradd', '-M', '-N', '-u', String(now.uid), '-g', group, user);
    await rm(data, { recursive: true, force: true });

    const r = await restore();
    expect(r.exitCode, r.all).toBe(0);
    for (const p of ['owned', 'owned/db.conf']) {
      const s = await stat(path.join(data, p));
      expect({ path: p, uid: s.uid, gid: s.gid }).toEqual({ path: p, uid: now.uid, gid: now.gid });
    }
    expect((await stat(path.join(data, 'plain.txt'))).uid).toBe(0);
  });

  it("keeps a directory's setgid bit (files created in it take its group); a file's setuid bit is still stripped and listed", async () => {
    await rm(data, { recursive: true, force: true });
    const r = await restore();
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain(`setuid/setgid bits STRIPPED from 1 file(s) (pass --keep-special-modes to restore them): ${data}/tool\n`);
    expect(((await stat(path.join(data, 'owned'))).mode & 0o7777).toString(8)).toBe('2750');
    expect(((await stat(path.join(data, 'tool'))).mode & 0o7777).toString(8)).toBe('755');
  });

  // lsbackup's umask reaches a local host's tar; an SSH session has the host's own.
  it.runIf(kind === 'local')(
    "creates the directories above the restored path that the host lacks as 0755, whatever the session's umask (077 here)",
    async () => {
      await rm(data, { recursive: true, force: true });
      const args = ['restore', archive, '-b', build, '--yes', '--recipes', path.join(ws.dir, 'recipes'), '--var', `app.subset=${data}/owned`];
      const r = await execa('sh', ['-c', 'umask 077 && exec "$@"', 'sh', 'node', cliPath, ...args], { reject: false, stdin: 'ignore', timeout: 180_000 });
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(((await stat(data)).mode & 0o7777).toString(8), 'the parent tar had to create').toBe('755');
      expect(((await stat(path.join(data, 'owned'))).mode & 0o7777).toString(8), 'the restored directory, as backed up').toBe('2750');
    },
  );

  it.runIf(kind === 'local')("says in the plan that a zip backup's files come back owned by root (a zip records no owners)", async () => {
    const zips = path.join(ws.dir, 'zips');
    const b = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', build, '-t', zips, '--format', 'zip']);
    expect(b.exitCode, b.stdout + b.stderr).toBe(0);
    const zip = path.join(
      zips,
      (await readdir(zips)).find((f) => f.endsWith('.zip'))!,
    );
    const r = await runCli(['restore', zip, '-b', build, '--yes', '--dry-run', '--recipes', path.join(ws.dir, 'recipes')], { timeoutMs: 180_000 });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(
      /owners NOT in the backup \(a zip records none\): \d+ file\(s\) come back owned by the step's user \(root when it runs as root\)/,
    );
  });

  it('refuses to write, naming them, when the rebuilt host has no user or group of that name (their old numbers belong to another account)', async () => {
    removeUser(user);
    removeGroup(group);
    // The old numbers now belong to other accounts: tar's fallback would hand them the data.
    sh('groupadd', '-g', String(old.gid), `${group}x`);
    sh('useradd', '-M', '-N', '-u', String(old.uid), '-g', `${group}x`, `${user}x`);
    await rm(data, { recursive: true, force: true });

    const r = await restore();
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toContain(
      `refusing to write under '${data}': the host has no user '${user}' (uid ${old.uid} at backup time; owns '${data}/owned' and 1 more)`,
    );
    expect(r.stderr).toContain(`group '${group}' (gid ${old.gid} at backup time;`);
    expect(r.stderr).toContain('Create the missing user(s) and group(s) first');
    expect(existsSync(data), 'nothing was written').toBe(false);
  });
});
