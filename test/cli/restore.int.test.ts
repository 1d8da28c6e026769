/**
 * Restore through the built CLI on the local host: round trip, dry run, confirmation, refusal of
 * a corrupt backup before any host is touched, and the recipe carried inside the backup.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let target: string;
let recipes: string;
let data: string;

const appRecipe = (marker: string) =>
  recipeYaml(
    'app',
    `hosts: { group: app }
vars:
  dir: ${data}/conf
  db: ${data}/db.txt
  cleanup: false
backup:
  snapshot:
    - run: cat {{vars.db}}
      output: db.dump
  collect:
    - path: "{{vars.dir}}"
restore:
  pre:
    - run: touch ${marker}
  apply:
    - run: cat > {{vars.db}}
      input: db.dump
    - files: "{{vars.dir}}"
    - files: ${data}/never-existed
      optional: true
  post:
    - run: echo restored
    - name: optional cleanup
      when: "{{vars.cleanup}}"
      run: rm -rf ${data}/cache
    - name: two lines
      run: |
        echo first
        echo second
`,
  );

beforeEach(async () => {
  ws = await workspace();
  build = path.join(ws.dir, 'build');
  target = path.join(ws.dir, 'backups');
  recipes = path.join(ws.dir, 'recipes');
  data = path.join(ws.dir, 'data');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('data/conf/app.conf', 'setting=1\n');
  await ws.write('data/conf/sub/deep.conf', 'deep\n');
  await ws.write('data/db.txt', 'row 1\nrow 2\n');
  await execa('chmod', ['0640', path.join(data, 'conf/app.conf')]);
  await execa('ln', ['-s', 'app.conf', path.join(data, 'conf/current')]);
  await ws.write('recipes/app.yaml', appRecipe(path.join(ws.dir, 'pre-ran')));
});
afterEach(async () => ws.cleanup());

async function backupOnce(extra: string[] = []): Promise<string> {
  const r = await runCli(['apply', recipes, '-b', build, '-t', target, ...extra]);
  expect(r.exitCode, r.stderr).toBe(0);
  const [name] = (await readdir(target)).filter((n) => n.endsWith('.tar.gz'));
  return path.join(target, name!);
}

describe('restore', () => {
  it('puts command output and files back exactly (round trip)', async () => {
    const archive = await backupOnce();
    await rm(path.join(data, 'conf'), { recursive: true });
    await writeFile(path.join(data, 'db.txt'), 'destroyed\n');
    const r = await runCli(['restore', archive, '-b', build, '--yes', '--recipes', recipes]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(path.join(data, 'db.txt'), 'utf8')).toBe('row 1\nrow 2\n');
    expect(await readFile(path.join(data, 'conf/app.conf'), 'utf8')).toBe('setting=1\n');
    expect(await readFile(path.join(data, 'conf/sub/deep.conf'), 'utf8')).toBe('deep\n');
    expect(((await stat(path.join(data, 'conf/app.conf'))).mode & 0o777).toString(8)).toBe('640');
    expect(await readlink(path.join(data, 'conf/current'))).toBe('app.conf');
    expect(r.stdout).toMatch(/app\s+localhost\s+success/);
  });

  it('finds a backup by name in a target and restores it', async () => {
    const archive = await backupOnce();
    await writeFile(path.join(data, 'db.txt'), 'destroyed\n');
    const r = await runCli(['restore', path.basename(archive), '-t', target, '-b', build, '--yes', '--only', 'app', '--recipes', recipes]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(path.join(data, 'db.txt'), 'utf8')).toBe('row 1\nrow 2\n');
  });

  it('--dry-run verifies and shows the plan without touching the host', async () => {
    const archive = await backupOnce();
    const r = await runCli(['restore', archive, '-b', build, '--dry-run', '--recipes', recipes]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('localhost -> localhost (same name)');
    expect(r.stdout).toContain(`cat > ${data}/db.txt < db.dump`);
    expect(existsSync(path.join(ws.dir, 'pre-ran'))).toBe(false);
  });

  it('a --staging-dir that does not exist is a usage error naming it, before any host is touched', async () => {
    const archive = await backupOnce();
    const missing = path.join(ws.dir, 'no-such-dir');
    const r = await runCli(['restore', archive, '-b', build, '-y', '--staging-dir', missing]);
    expect(r.exitCode, r.stderr).toBe(64);
    expect(r.stderr).toContain(`--staging-dir ${missing} does not exist`);
    expect(r.stderr).not.toMatch(/unexpected error|at .*\.js:\d+/);
    expect(existsSync(path.join(ws.dir, 'pre-ran'))).toBe(false);
  });

  it('asks for confirmation: without a TTY and without --yes it refuses (64)', async () => {
    const archive = await backupOnce();
    const r = await runCli(['restore', archive, '-b', build]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('--yes');
    expect(existsSync(path.join(ws.dir, 'pre-ran'))).toBe(false);
  });

  it('refuses a corrupt backup before touching any host, naming the entry', async () => {
    const archive = await backupOnce();
    // Rewrite the archive with one changed byte in db.dump (a valid gzip, wrong content).
    const x = path.join(ws.dir, 'x');
    await mkdir(x);
    await execa('tar', ['xzf', archive, '-C', x]);
    await writeFile(path.join(x, 'app/localhost/db.dump'), 'row 1\nrow 3\n');
    const order = (await execa('tar', ['tzf', archive])).stdout.split('\n').filter(Boolean);
    await execa('tar', ['czf', archive, '-C', x, '--no-recursion', ...order]);
    await rm(`${archive}.sha256`);
    const r = await runCli(['restore', archive, '-b', build, '--yes']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("entry 'app/localhost/db.dump' is corrupt");
    expect(r.stderr).toContain('before any host was touched');
    expect(existsSync(path.join(ws.dir, 'pre-ran'))).toBe(false);
  });

  it('refuses an archive whose stored bytes differ from the .sha256 sidecar', async () => {
    const archive = await backupOnce();
    await writeFile(`${archive}.sha256`, `${'0'.repeat(64)}  ${path.basename(archive)}\n`);
    const r = await runCli(['restore', archive, '-b', build, '--yes']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('.sha256 sidecar');
    expect(existsSync(path.join(ws.dir, 'pre-ran'))).toBe(false);
  });

  it('runs the recipe that made a signed backup, not the one installed now, unless told to upgrade', async () => {
    const key = path.join(ws.dir, 'signing');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const archive = await backupOnce(['--sign-key', key]);
    // The installed recipe changes after the backup: restore must still run the carried one.
    await ws.write('recipes/app.yaml', appRecipe(path.join(ws.dir, 'new-recipe-ran')).replace('version: 1.0.0', 'version: 1.1.0'));
    const r = await runCli(['restore', archive, '-b', build, '--yes', '--recipes', recipes, '--trusted-keys', `${key}.pub`]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(path.join(ws.dir, 'pre-ran'))).toBe(true);
    expect(existsSync(path.join(ws.dir, 'new-recipe-ran'))).toBe(false);
    const up = await runCli(['restore', archive, '-b', build, '--yes', '--allow-recipe-upgrade', '--recipes', recipes]);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(existsSync(path.join(ws.dir, 'new-recipe-ran'))).toBe(true);
  });

  it('maps hosts of a rebuilt cluster by group position, or by --host-map', async () => {
    const archive = await backupOnce();
    await ws.write('build2/inventory', '[app]\nnew-node ansible_connection=local\n');
    const dry = await runCli(['restore', archive, '-b', path.join(ws.dir, 'build2'), '--dry-run', '--recipes', recipes]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('localhost -> new-node (position 1 in group app)');
    await ws.write('build3/inventory', '[other]\nspare ansible_connection=local\n');
    const none = await runCli(['restore', archive, '-b', path.join(ws.dir, 'build3'), '--dry-run', '--recipes', recipes]);
    expect(none.stdout).toContain('--host-map localhost=<host>');
    const mapped = await runCli(['restore', archive, '-b', path.join(ws.dir, 'build3'), '--dry-run', '--host-map', 'localhost=spare', '--recipes', recipes]);
    expect(mapped.stdout).toContain('localhost -> spare (--host-map localhost=spare)');
  });

  it('setuid/setgid bits are listed in the plan and stripped, unless --keep-special-modes', async () => {
    await ws.write('data/conf/tool', '#!/bin/sh\n');
    await ws.write('data/conf/sub/grouped', 'g\n');
    await execa('chmod', ['4755', path.join(data, 'conf/tool')]);
    await execa('chmod', ['2750', path.join(data, 'conf/sub/grouped')]);
    const archive = await backupOnce();
    const mode = async (rel: string) => ((await stat(path.join(data, rel))).mode & 0o7777).toString(8);

    const stripped = await runCli(['restore', archive, '-b', build, '--recipes', recipes, '--yes']);
    expect(stripped.exitCode, stripped.stderr).toBe(0);
    const line = stripped.stderr
      .split('\n')
      .find((l) => l.includes('setuid/setgid bits STRIPPED from 2 file(s) (pass --keep-special-modes to restore them): '));
    expect(line, stripped.stderr).toBeDefined();
    expect(line).toContain(`${data}/conf/tool`);
    expect(line).toContain(`${data}/conf/sub/grouped`);
    expect(await mode('conf/tool')).toBe('755');
    expect(await mode('conf/sub/grouped')).toBe('750');

    const kept = await runCli(['restore', archive, '-b', build, '--recipes', recipes, '--yes', '--keep-special-modes']);
    expect(kept.exitCode, kept.stderr).toBe(0);
    expect(kept.stderr).toMatch(/setuid\/setgid bits restored \(--keep-special-modes\) on 2 file\(s\)/);
    expect(await mode('conf/tool')).toBe('4755');
    expect(await mode('conf/sub/grouped')).toBe('2750');
  });

  it('a files: step whose path matches nothing in the backup is refused before any host is touched, naming the path', async () => {
    const archive = await backupOnce();
    const missing = path.join(data, 'never-collected');
    const r = await runCli(['restore', archive, '-b', build, '--recipes', recipes, '--yes', '--var', `app.dir=${missing}`]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain(`refused before any host was touched: a step would fail for want of its data`);
    expect(r.stderr).toContain(`puts back '${missing}', under which the backup holds nothing`);
    expect(r.stderr).toContain(`put back files ${missing} — NOTHING in the backup under it: this step would fail, so the restore is refused`);
  });

  it('the plan shows steps whose `when` is false as skipped, and every line of a multi-line command', async () => {
    const archive = await backupOnce();
    const r = await runCli(['restore', archive, '-b', build, '--recipes', recipes, '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`[post] optional cleanup: rm -rf ${data}/cache — skipped: its \`when\` is false`);
    expect(r.stdout).toContain('[post] two lines: echo first\n          echo second\n');
    expect(r.stdout).not.toMatch(/restored — skipped/);
    expect(r.stdout).toContain(`put back files ${data}/never-existed — nothing in the backup under it (optional)`);
  });

  it('says exactly what was checked: without the .sha256 sidecar, that the archive digest was not', async () => {
    const archive = await backupOnce();
    const withSidecar = await runCli(['restore', archive, '-b', build, '--recipes', recipes, '--dry-run']);
    expect(withSidecar.stdout).toContain('Checked: the archive matched its .sha256 sidecar; every entry matched metadata.json (sha256 and size).');
    await rm(`${archive}.sha256`);
    const without = await runCli(['restore', archive, '-b', build, '--recipes', recipes, '--dry-run']);
    expect(without.exitCode, without.stderr).toBe(0);
    expect(without.stdout).toContain(
      "Checked: every entry matched metadata.json (sha256 and size). NOT checked: the archive's own sha256 — its .sha256 sidecar is missing.",
    );
    expect(without.stdout).not.toMatch(/verified/);
  });
});
