/**
 * The engine foundation driven through the built CLI, as a user runs it: a local inventory
 * (ansible_connection=local), recipes written by the test, a local target directory.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, runCli, spawnCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let target: string;
let recipes: string;

beforeEach(async () => {
  ws = await workspace();
  build = path.join(ws.dir, 'build');
  target = path.join(ws.dir, 'backups');
  recipes = path.join(ws.dir, 'recipes');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => ws.cleanup());

async function archives(): Promise<string[]> {
  if (!existsSync(target)) return [];
  return (await readdir(target)).filter((n) => /\.(tar\.gz|tar\.zst|zip)$/.test(n)).sort();
}

async function listArchive(file: string): Promise<string[]> {
  const r = await execa('tar', ['tzf', file]);
  return r.stdout.split('\n');
}

const apply = (...extra: string[]) => runCli(['apply', recipes, '-b', build, '-t', target, ...extra]);

describe('apply on the local host', () => {
  it('backs up command output and collected files into one verifiable archive', async () => {
    await ws.write('data/conf/app.conf', 'setting=1\n');
    await ws.write('data/conf/skip.pid', '123\n');
    await ws.write(
      'recipes/app.yaml',
      recipeYaml(
        'app',
        `hosts: { group: app, run: all }
vars:
  dir: ${ws.dir}/data/conf
detect: test -d {{vars.dir}}
version: echo 4.2.0
backup:
  snapshot:
    - run: printf 'dump of %s\\n' {{host.name}}
      output: dump.txt
  collect:
    - path: "{{vars.dir}}"
      exclude: ["*.pid"]
`,
      ),
    );
    const r = await apply();
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.exitCode).toBe(0);
    const [name] = await archives();
    expect(name).toMatch(/^lsbackup-build-\d{8}T\d{6}Z\.tar\.gz$/);
    const file = path.join(target, name!);
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    const entries = await listArchive(file);
    expect(entries).toContain('app/localhost/dump.txt');
    expect(entries).toContain(`app/localhost/files${ws.dir}/data/conf/app.conf`);
    expect(entries.some((e) => e.endsWith('skip.pid'))).toBe(false);
    // Owners travel by name too (restore maps names on a new host), not only as numbers.
    const owner = (await import('node:os')).userInfo().username;
    expect((await execa('tar', ['tzvf', file])).stdout).toMatch(new RegExp(`${owner}/\\S+ .*data/conf/app\\.conf`));
    expect(entries.filter(Boolean).at(-1)).toBe('metadata.json');

    const dump = await execa('tar', ['xzOf', file, 'app/localhost/dump.txt']);
    expect(dump.stdout).toBe('dump of localhost');
    // The sha256 sidecar works with sha256sum -c.
    const check = await execa('sha256sum', ['-c', `${name}.sha256`], { cwd: target });
    expect(check.stdout).toContain(': OK');
    const meta = JSON.parse(await readFile(`${file}.metadata.json`, 'utf8'));
    expect(meta.status).toBe('success');
    expect(meta.cluster).toBe('build');
    expect(meta.components[0]).toMatchObject({ name: 'app', componentVersion: '4.2.0', status: 'success' });
    expect(meta.components[0].recipe.digest).toMatch(/^[0-9a-f]{64}$/);
    const dumpEntry = meta.entries.find((e: { path: string }) => e.path === 'app/localhost/dump.txt');
    expect(dumpEntry.size).toBe('dump of localhost\n'.length);
    expect(dumpEntry.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The metadata inside the archive is the same document as the sidecar.
    const inner = await execa('tar', ['xzOf', file, 'metadata.json']);
    expect(JSON.parse(inner.stdout).backupId).toBe(meta.backupId);
  });

  it('passes a hostile inventory value to the command as one literal argument', async () => {
    const evil = `'; rm -rf / #$(touch ${ws.dir}/pwned)`;
    await ws.write('build/host_vars/localhost.yml', `evil: ${JSON.stringify(evil)}\n`);
    await ws.write(
      'recipes/q.yaml',
      recipeYaml(
        'quoting',
        `hosts: { group: app }
vars: { evil: harmless }
backup:
  snapshot:
    - run: printf '%s|%s' {{vars.evil}} {{host.vars.evil}}
      output: evil.txt
`,
      ),
    );
    const r = await apply();
    expect(r.exitCode).toBe(0);
    const [name] = await archives();
    const out = await execa('tar', ['xzOf', path.join(target, name!), 'quoting/localhost/evil.txt']);
    expect(out.stdout).toBe(`${evil}|${evil}`);
    expect(existsSync(path.join(ws.dir, 'pwned'))).toBe(false);
  });

  it('keeps the archive as partial when a step fails, and still runs post-steps', async () => {
    await ws.write('recipes/ok.yaml', recipeYaml('ok', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo fine\n      output: ok.txt\n`));
    await ws.write(
      'recipes/bad.yaml',
      recipeYaml(
        'bad',
        `hosts: { group: app }
backup:
  pre:
    - run: echo "disk on fire" >&2; exit 3
  snapshot:
    - run: touch ${ws.dir}/snapshot-ran
  post:
    - run: touch ${ws.dir}/post-ran
`,
      ),
    );
    const r = await apply();
    expect(r.exitCode).toBe(2);
    expect(existsSync(path.join(ws.dir, 'post-ran'))).toBe(true);
    expect(existsSync(path.join(ws.dir, 'snapshot-ran'))).toBe(false);
    expect(r.stderr + r.stdout).toContain('disk on fire');
    const [name] = await archives();
    const meta = JSON.parse(await readFile(path.join(target, `${name}.metadata.json`), 'utf8'));
    expect(meta.status).toBe('partial');
    const bad = meta.components.find((c: { name: string }) => c.name === 'bad');
    expect(bad.status).toBe('failed');
    expect(bad.hosts[0].error).toContain('exit code 3');
    expect(bad.hosts[0].steps.map((s: { status: string }) => s.status)).toEqual(['failed', 'skipped', 'success']);
  });

  it('kills a step that hangs past its timeout, then runs post-steps', async () => {
    await ws.write(
      'recipes/hang.yaml',
      recipeYaml(
        'hang',
        `hosts: { group: app }
backup:
  snapshot:
    - run: sleep 3037
      timeout: 1
  post:
    - run: touch ${ws.dir}/post-ran
`,
      ),
    );
    // Were the step not killed, apply would outlast the test's timeout; no wall-clock bound here
    // (the machine may be busy), but the step's process must be gone when apply returns.
    const r = await apply('--json');
    expect(
      execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.startsWith('sleep 3037')),
    ).toEqual([]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('timed out after 1s');
    expect(existsSync(path.join(ws.dir, 'post-ran'))).toBe(true);
    expect(await archives()).toEqual([]);
    // --json: every stdout line is one JSON event.
    for (const line of r.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('on SIGTERM stops, runs post-steps, and leaves no archive under a final name', async () => {
    await ws.write(
      'recipes/slow.yaml',
      recipeYaml(
        'slow',
        `hosts: { group: app }
backup:
  snapshot:
    - run: touch ${ws.dir}/started; sleep 60
      output: slow.txt
  post:
    - run: touch ${ws.dir}/post-ran
`,
      ),
    );
    const child = spawnCli(['apply', recipes, '-b', build, '-t', target]);
    for (let i = 0; i < 200 && !existsSync(path.join(ws.dir, 'started')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(path.join(ws.dir, 'started'))).toBe(true);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode).not.toBe(0);
    expect(existsSync(path.join(ws.dir, 'post-ran'))).toBe(true);
    expect(await archives()).toEqual([]);
    const left = existsSync(target) ? await readdir(target) : [];
    expect(left).toEqual([]);
  });

  it('adds _1 when a backup of the same cluster exists for that second', async () => {
    await ws.write('recipes/ok.yaml', recipeYaml('ok', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo fine\n      output: ok.txt\n`));
    // Occupy the names of the next seconds so the second run must collide.
    await mkdir(target, { recursive: true });
    const now = Date.now();
    for (let s = 0; s < 30; s++) {
      const stamp = new Date(now + s * 1000)
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '');
      await writeFile(path.join(target, `lsbackup-build-${stamp}.tar.gz`), 'occupied');
    }
    const r = await apply();
    expect(r.exitCode).toBe(0);
    const fresh = (await archives()).filter((n) => n.includes('_1'));
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatch(/^lsbackup-build-\d{8}T\d{6}Z_1\.tar\.gz$/);
  });

  it('refuses a target that is not a writable directory, naming it', async () => {
    await ws.write('recipes/ok.yaml', recipeYaml('ok', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo fine\n      output: ok.txt\n`));
    const blocker = await ws.write('not-a-dir', 'file');
    const r = await runCli(['apply', recipes, '-b', build, '-t', path.join(blocker, 'sub')]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(path.join(blocker, 'sub'));
    expect(r.stderr).not.toMatch(/unexpected error/);
  });

  it('never prints or stores a secret value', async () => {
    const marker = 'S3cr3t-Marker-7781';
    await ws.write(
      'recipes/sec.yaml',
      recipeYaml(
        'sec',
        `hosts: { group: app }
backup:
  snapshot:
    - run: test -n "$PGPASSWORD" && echo "user=app" && echo "password {{secret "DB_PASSWORD"}} rejected" >&2 && exit 1
      env: { PGPASSWORD: '{{secret "DB_PASSWORD"}}' }
      output: out.txt
      onError: continue
    - run: echo ok
      output: ok.txt
`,
      ),
    );
    const env = { DB_PASSWORD: marker };
    const plain = await runCli(['apply', recipes, '-b', build, '-t', target], { env });
    const json = await runCli(['apply', recipes, '-b', build, '-t', target, '--json'], { env });
    const plan = await runCli(['plan', recipes, '-b', build], { env });
    expect(plan.exitCode).toBe(0);
    // The plan shows where the secret goes, never its value: commands get it by environment
    // (inside "…", where the recipe puts it, as ${LSB_SECRET_…}: engine/template/environment.ts).
    expect(plan.stdout).toContain('echo "password ${LSB_SECRET_DB_PASSWORD} rejected"');
    for (const r of [plain, json, plan]) {
      expect(r.stdout + r.stderr).not.toContain(marker);
    }
    expect(json.stdout).toContain('rejected');
    for (const name of await readdir(target)) {
      if (name.endsWith('.json')) expect(await readFile(path.join(target, name), 'utf8')).not.toContain(marker);
    }
  });
});

describe('bad recipes are reported before anything runs', () => {
  it('reports a YAML syntax error with file:line:col and exit 78', async () => {
    const file = await ws.write('recipes/broken.yaml', 'apiVersion: lsbackup/v1\nkind: Recipe\nmetadata: [unclosed\n');
    const r = await apply();
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+`));
  });

  it('reports every schema problem at once with positions, and runs nothing', async () => {
    const file = await ws.write(
      'recipes/wrong.yaml',
      `apiVersion: lsbackup/v1
kind: Recipe
metadata:
  name: wrong
  version: 1.0.0
spec:
  hosts: { group: app, run: sometimes }
  backup:
    snapshots:
      - run: touch ${ws.dir}/ran
    collect:
      - path: 42
`,
    );
    const r = await runCli(['validate', recipes]);
    expect(r.exitCode).toBe(78);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith(file));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(r.stderr).toContain(`${file}:7:`); // run: sometimes
    expect(r.stderr).toMatch(/snapshots.*did you mean 'snapshot'/s);
    expect(r.stderr).toContain(`${file}:12:`); // path: 42
    const a = await apply();
    expect(a.exitCode).toBe(78);
    expect(existsSync(path.join(ws.dir, 'ran'))).toBe(false);
  });

  it('rejects an unknown template variable at validation time', async () => {
    const file = await ws.write(
      'recipes/tpl.yaml',
      recipeYaml('tpl', `hosts: { group: app }\nvars: { dir: /tmp }\nbackup:\n  snapshot:\n    - run: ls {{vars.dri}}\n      output: ls.txt\n`),
    );
    const r = await runCli(['validate', file]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('vars.dri');
    expect(r.stderr).toContain('vars.dir');
  });
});

describe('the CLI itself', () => {
  it('explains itself with --help and exits 64 on usage errors', async () => {
    const help = await runCli(['--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Exit codes');
    for (const cmd of ['apply', 'plan', 'validate']) {
      const h = await runCli([cmd, '--help']);
      expect(h.exitCode).toBe(0);
      expect(h.stdout).toContain('Usage: lsbackup ' + cmd);
    }
    const bad = await runCli(['apply', '--format', 'rar']);
    expect(bad.exitCode).toBe(64);
    const noTarget = await runCli(['apply', recipes, '-b', build], { cwd: ws.dir });
    expect(noTarget.exitCode).toBe(64);
    expect(noTarget.stderr).toContain('-t');
  });
});
