/**
 * `lsbackup run` through the built CLI, as CI calls it: a config with jobs, a local inventory
 * (ansible_connection=local), a test recipe, local targets, and a real HTTP server receiving
 * the notifications.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, runCli, spawnCli, workspace } from '../helpers/cli.js';
import { startRecorder } from '../notify/recorder.js';
import { parseSamples } from '../../engine/metrics/text-format.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let hooks: Awaited<ReturnType<typeof startRecorder>>;

beforeEach(async () => {
  ws = await workspace();
  hooks = await startRecorder((p) => (p.startsWith('/hang') ? 'hang' : 200));
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app }\nvars: { greeting: hello }\nbackup:\n  snapshot:\n    - run: echo {{vars.greeting}}\n      output: greeting.txt\n`,
    ),
  );
  await ws.write('recipes/other.yaml', recipeYaml('other', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo other\n      output: other.txt\n`));
});
afterEach(async () => {
  await hooks.close();
  await ws.cleanup();
});

const config = (body: string) =>
  ws.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\ncluster: testc\nbuild: ./build\nrecipes: [./recipes]\ntargets: [./backups]\n${body}`,
  );
const archivesIn = async (dir: string) =>
  existsSync(path.join(ws.dir, dir)) ? (await readdir(path.join(ws.dir, dir))).filter((n) => n.endsWith('.tar.gz')) : [];
// Locks in the workspace: nothing shared with other tests or runs on this machine.
const env = () => ({ HOOK: hooks.url, XDG_CACHE_HOME: path.join(ws.dir, 'cache') });
const run = (...args: string[]) => runCli(['run', ...args], { cwd: ws.dir, env: env() });
const waitUntil = async (what: string, done: () => boolean) => {
  for (const end = Date.now() + 60_000; !done(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
};

describe('lsbackup run', () => {
  it('runs the named job end to end: its selection and vars, copies in its targets, a report file, notifications', async () => {
    await config(`notifications:
  - type: ping
    url: \${HOOK}/ping/check-uuid
jobs:
  nightly:
    schedule: "0 2 * * *"
    targets: [./nightly-a, ./nightly-b]
    components:
      only: [app]
      vars: { app: { greeting: bonjour } }
    notifications:
      - type: webhook
        url: \${HOOK}/hook
      - type: ping
        url: \${HOOK}/ping/check-uuid
  other:
    components: { only: [other] }
`);
    const r = await run('--job', 'nightly', '--report', 'report.json');
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.exitCode).toBe(0);
    const [a] = await archivesIn('nightly-a');
    expect(a).toMatch(/^lsbackup-testc-\d{8}T\d{6}Z\.tar\.gz$/);
    expect(await archivesIn('nightly-b')).toEqual([a]);
    expect(await archivesIn('backups')).toEqual([]);

    const report = JSON.parse(await readFile(path.join(ws.dir, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ job: 'nightly', cluster: 'testc', status: 'success', exitCode: 0, archive: a });
    expect(report.targets.map((t: { name: string }) => t.name)).toEqual([a, a]);
    expect(report.components).toEqual([
      expect.objectContaining({ component: 'app', host: 'localhost', status: 'success' }),
      expect.objectContaining({ component: 'other', host: '-', status: 'skipped', error: 'not selected (--only)' }),
    ]);
    expect(report.durationMs).toBeGreaterThan(0);

    const [hook] = await hooks.waitFor('/hook', 2);
    const bodies = hooks.received.filter((h) => h.path === '/hook').map((h) => JSON.parse(h.body));
    expect(bodies.map((b) => b.event)).toEqual(['start', 'success']);
    expect(bodies[1]).toMatchObject({ job: 'nightly', status: 'success', archive: a });
    expect(hook!.headers['content-type']).toBe('application/json');
    expect(hooks.received.filter((h) => h.path.startsWith('/ping')).map((h) => h.path)).toEqual(['/ping/check-uuid/start', '/ping/check-uuid']);
    // The greeting var of the job reached the recipe.
    expect((await execa('tar', ['xzOf', path.join(ws.dir, 'nightly-a', a!), 'app/localhost/greeting.txt'])).stdout).toBe('bonjour');
  });

  it("ends with the job's outcome when retention fails after the backup: `Result: partial`, not the backup's success", async () => {
    await config('retention: { keepLast: 1 }\n');
    expect((await run()).exitCode).toBe(0);
    const [old] = await archivesIn('backups');
    const stuck = path.join(ws.dir, 'backups', old!);
    // Immutable: retention's delete fails (EPERM), as on a WORM share or a file held by another program.
    await execa('chattr', ['+i', stuck]);
    try {
      const r = await run();
      expect(r.exitCode, r.stderr).toBe(2);
      const [newer] = (await archivesIn('backups')).filter((n) => n !== old);
      // Was `Result: success -> …` last (printed when the backup ended, before retention ran).
      expect(r.stdout.trim().split('\n').at(-1)).toMatch(
        new RegExp(`^Result: partial -> ${newer!.replaceAll('.', '\\.')} \\(retention in \\S+ failed: .*EPERM`),
      );
    } finally {
      await execa('chattr', ['-i', stuck]);
    }
  });

  it("stores the job's copies in its own targets only: $LSBACKUP_TARGET (which -t-less catalog commands use) is not a job's", async () => {
    await config('');
    const r = await runCli(['run'], { cwd: ws.dir, env: { ...env(), LSBACKUP_TARGET: path.join(ws.dir, 'from-env') } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await archivesIn('backups')).toHaveLength(1);
    expect(existsSync(path.join(ws.dir, 'from-env'))).toBe(false);
  });

  it('with several jobs and no --job, exits 64 naming them; an unknown job too', async () => {
    await config(`jobs:\n  nightly: {}\n  weekly: {}\n`);
    const r = await run();
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('Jobs in the config: nightly, weekly');
    const unknown = await run('--job', 'hourly');
    expect(unknown.exitCode).toBe(64);
    expect(unknown.stderr).toContain("no job named 'hourly'");
    expect(await archivesIn('backups')).toEqual([]);
  });

  it('without jobs, runs the top-level settings; --json ends with the run report', async () => {
    await config('');
    const r = await run('--json');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const end = lines.at(-1);
    expect(end).toMatchObject({ type: 'job.end', job: 'default', report: { job: 'default', status: 'success' } });
    expect(end.report.components.map((c: { component: string }) => c.component).sort()).toEqual(['app', 'other']);
    expect(await archivesIn('backups')).toEqual([end.report.archive]);
  });

  it('applies the retention policy after each run: only the newest backups stay, sidecars go with them', async () => {
    await config(`retention: { keepLast: 2 }\nnotifications:\n  - type: ping\n    url: \${HOOK}/rp\n`);
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await run('--report', 'r.json', '--json');
      expect(r.exitCode, r.stderr).toBe(0);
      names.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!).report.archive);
      // Distinct names: each run lands in its own second.
      await new Promise((res) => setTimeout(res, 1100));
    }
    expect((await archivesIn('backups')).sort()).toEqual(names.slice(1).sort());
    const report = JSON.parse(await readFile(path.join(ws.dir, 'r.json'), 'utf8'));
    expect(report.status).toBe('success');
    expect(report.targets[0].retention.deleted).toEqual([names[0]]);
    const left = await readdir(path.join(ws.dir, 'backups'));
    expect(left.some((n) => n.startsWith(names[0]!))).toBe(false);
    await hooks.waitFor('/rp');
  });

  it("a run whose clock is behind its earlier backups' keeps its own backup: the backups dated after its clock are kept and left out of the rules", async () => {
    // The run's clock, shifted in the CLI process (as a dead RTC battery with no NTP sets a
    // machine's clock back): a preload replaces Date before lsbackup starts.
    const clock = await ws.write(
      'shift-clock.mjs',
      'const offset = Number(process.env.LSB_TEST_CLOCK_OFFSET_MS);\n' +
        'const Real = Date;\n' +
        'globalThis.Date = class extends Real {\n' +
        '  constructor(...args) { if (args.length === 0) super(Real.now() + offset); else super(...args); }\n' +
        '  static now() { return Real.now() + offset; }\n' +
        '};\n',
    );
    await config('retention: { keepLast: 2 }\n');
    const hour = 3_600_000;
    const runAt = async (offsetMs: number) => {
      const r = await runCli(['run', '--json'], {
        cwd: ws.dir,
        env: { ...env(), NODE_OPTIONS: `--import ${clock}`, LSB_TEST_CLOCK_OFFSET_MS: String(offsetMs) },
      });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!).report as {
        archive: string;
        warnings: string[];
        targets: { retention?: { deleted: string[] } }[];
      };
    };
    const good = [await runAt(-2 * hour), await runAt(-hour)].map((r) => r.archive);
    // From here on the machine's clock is 400 days behind.
    const behind = [await runAt(-400 * 24 * hour), await runAt(-399 * 24 * hour)];
    expect((await archivesIn('backups')).sort()).toEqual([...good, ...behind.map((r) => r.archive)].sort());
    for (const r of behind) expect(r.targets[0]!.retention?.deleted ?? []).toEqual([]);
    expect(behind[1]!.warnings.join('\n')).toMatch(/2 backup\(s\) dated after this run's clock/);
  });

  it('a run that cannot start (a secret the config needs is gone) still writes its --report file and its metrics: failed, with why, never the last success', async () => {
    await config('jobs:\n  nightly: {}\n');
    const good = await run('--job', 'nightly', '--report', 'last-run.json', '--metrics-textfile', 'm.prom');
    expect(good.exitCode, good.stderr).toBe(0);
    expect(JSON.parse(await readFile(path.join(ws.dir, 'last-run.json'), 'utf8')).status).toBe('success');
    // The credential is no longer passed (a redeploy lost it): the config does not load.
    await config('jobs:\n  nightly:\n    description: ${GONE_SECRET}\n');
    const broken = await run('--job', 'nightly', '--report', 'last-run.json', '--metrics-textfile', 'm.prom');
    expect(broken.exitCode, broken.stderr).toBe(78);
    const report = JSON.parse(await readFile(path.join(ws.dir, 'last-run.json'), 'utf8'));
    expect(report).toMatchObject({ job: 'nightly', status: 'failed', exitCode: 78 });
    expect(report.error).toContain("environment variable 'GONE_SECRET' is not set");
    // The job's series (its cluster from its earlier run: the config that names it did not load) says failed; the last success stays.
    const samples = parseSamples(await readFile(path.join(ws.dir, 'm.prom'), 'utf8'));
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    const nightly = { cluster: 'testc', backup_job: 'nightly' };
    expect(value('lsbackup_last_run_status', { ...nightly, status: 'failed' })).toBe(1);
    expect(value('lsbackup_last_run_status', { ...nightly, status: 'success' })).toBe(0);
    expect(value('lsbackup_runs_total', { ...nightly, status: 'failed' })).toBe(1);
    expect(value('lsbackup_last_success_timestamp_seconds', nightly)).toBeGreaterThan(0);
    expect(samples.filter((s) => s.labels.cluster === '')).toEqual([]);
    // What it could not do is said: its notifications are in the config.
    expect(broken.stderr).toContain('lsbackup: job nightly could not start, and was not notified: the notifications are in the config, which did not load');
  });

  it("a run that cannot start with its config loaded (the metrics directory is gone) sends the job's failure notifications", async () => {
    await config(`jobs:
  nightly:
    notifications:
      - type: webhook
        url: \${HOOK}/hook
      - type: ping
        url: \${HOOK}/ping/check-uuid
`);
    const r = await run('--job', 'nightly', '--metrics-textfile', 'gone/m.prom', '--report', 'last-run.json');
    expect(r.exitCode, r.stderr).toBe(64);
    const [hook] = await hooks.waitFor('/hook');
    expect(JSON.parse(hook!.body)).toMatchObject({ event: 'failure', job: 'nightly', cluster: 'testc', status: 'failed', exitCode: 64 });
    expect(JSON.parse(hook!.body).error).toMatch(/--metrics-textfile gone\/m\.prom: directory .*gone is not writable \(ENOENT\)/);
    const [fail] = await hooks.waitFor('/ping/check-uuid/fail');
    expect(fail!.body).toContain('--metrics-textfile gone/m.prom: directory');
    expect(JSON.parse(await readFile(path.join(ws.dir, 'last-run.json'), 'utf8'))).toMatchObject({ job: 'nightly', status: 'failed', exitCode: 64 });
    expect(r.stderr).toContain('lsbackup: job nightly could not start, and was not recorded in --metrics-textfile gone/m.prom: it is what failed');
    expect(await archivesIn('backups')).toEqual([]);
  });

  it('a run its set-up stops (a target credential is gone) sends only its failure, no start, with where the config names it', async () => {
    await config(`jobs:
  nightly:
    targets:
      - uri: s3://bkt/prod
        options:
          endpoint: http://127.0.0.1:9
          forcePathStyle: true
          accessKeyId: { secret: GONE_KEY_ID }
          secretAccessKey: { secret: GONE_SECRET_KEY }
    notifications:
      - type: webhook
        url: \${HOOK}/hook
`);
    const r = await run('--job', 'nightly');
    expect(r.exitCode, r.stderr).toBe(78);
    expect(r.stderr).toMatch(/lsbackup\.config\.yaml:9:5: targets: environment variable GONE_KEY_ID is not set/);
    const [hook] = await hooks.waitFor('/hook');
    expect(JSON.parse(hook!.body)).toMatchObject({ event: 'failure', job: 'nightly', status: 'failed', exitCode: 78 });
    // The outcome is sent after any start to the same endpoint: by now a start would be here.
    expect(hooks.received.filter((h) => h.path === '/hook').map((h) => JSON.parse(h.body).event)).toEqual(['failure']);
  });

  it('a metrics textfile that cannot be written at the end still leaves the --report of this run, not the last one', async () => {
    await config('jobs:\n  nightly: {}\n');
    expect((await run('--report', 'last-run.json', '--metrics-textfile', 'm.prom')).exitCode).toBe(0);
    const first = JSON.parse(await readFile(path.join(ws.dir, 'last-run.json'), 'utf8'));
    // Meanwhile something else writes its notes over the textfile (it is not lsbackup's any more).
    await ws.write(
      'recipes/app.yaml',
      recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo notes > ${ws.dir}/m.prom; echo hello\n      output: greeting.txt\n`),
    );
    const r = await run('--report', 'last-run.json', '--metrics-textfile', 'm.prom');
    expect(r.exitCode, r.stderr).toBe(64);
    expect(r.stderr).toMatch(/--metrics-textfile m\.prom: line 1: not a sample: notes/);
    const report = JSON.parse(await readFile(path.join(ws.dir, 'last-run.json'), 'utf8'));
    expect(report).toMatchObject({ job: 'nightly', status: 'success' });
    expect(report.archive).not.toBe(first.archive);
    expect(await readFile(path.join(ws.dir, 'm.prom'), 'utf8')).toBe('notes\n');
  });

  it('a hanging notification endpoint is given up after its timeout, and is a warning', async () => {
    await config(`notifications:
  - type: webhook
    url: \${HOOK}/hang/hook
    timeout: 1
    retries: 0
  - type: ping
    url: \${HOOK}/hang/ping
    timeout: 1
    retries: 0
`);
    // The endpoints never answer: the run ends at all only because each attempt is abandoned.
    const r = await run();
    expect(r.exitCode).toBe(0);
    expect((await archivesIn('backups')).length).toBe(1);
    expect(hooks.received.filter((h) => h.path.startsWith('/hang')).length).toBe(4);
    expect(r.stderr).toMatch(/warning: notification webhook http:\/\/127\.0\.0\.1:\d+\/… \(start\) failed: no answer within 1s/);
    expect(r.stderr).toMatch(/warning: notification webhook http:\/\/127\.0\.0\.1:\d+\/… \(success\) failed: no answer within 1s/);
    expect(r.stderr).not.toContain('/hang/ping');
  });

  it('on SIGHUP stops like SIGTERM: the post-step runs, exit 1, nothing under a final name', async () => {
    await ws.write(
      'recipes/slow.yaml',
      recipeYaml(
        'slow',
        `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${ws.dir}/started; sleep 60\n      output: slow.txt\n  post:\n    - run: touch ${ws.dir}/post-ran\n`,
      ),
    );
    await config(`components: { only: [slow] }\n`);
    const child = spawnCli(['run'], { cwd: ws.dir, env: env() });
    await waitUntil('the snapshot to start', () => existsSync(path.join(ws.dir, 'started')));
    child.kill('SIGHUP');
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain('SIGHUP received: stopping, running post-steps');
    expect(existsSync(path.join(ws.dir, 'post-ran'))).toBe(true);
    const left = existsSync(path.join(ws.dir, 'backups')) ? await readdir(path.join(ws.dir, 'backups')) : [];
    expect(left.filter((n) => !n.startsWith('.lsbackup.lock'))).toEqual([]);
  });

  it("waits for another run holding the cluster with --lock-wait, or the config's lockWait", async () => {
    // 'hold' keeps the cluster lock until the test creates the release file.
    await ws.write(
      'recipes/hold.yaml',
      recipeYaml(
        'hold',
        `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${ws.dir}/holding; while [ ! -e ${ws.dir}/release ]; do sleep 0.1; done; echo held\n      output: held.txt\n`,
      ),
    );
    for (const [how, lockWait, flags] of [
      ['--lock-wait', '', ['--lock-wait', '120']],
      ['lockWait', '    lockWait: 120\n', []],
    ] as const) {
      await rm(path.join(ws.dir, 'release'), { force: true });
      await rm(path.join(ws.dir, 'holding'), { force: true });
      await config(
        `jobs:\n  hold:\n    targets: [./hold]\n    components: { only: [hold] }\n  quick:\n    targets: [./quick]\n    components: { only: [app] }\n${lockWait}`,
      );
      const holder = spawnCli(['run', '--job', 'hold'], { cwd: ws.dir, env: env() });
      await waitUntil('the holder to take the lock', () => existsSync(path.join(ws.dir, 'holding')));
      const waiter = spawnCli(['run', '--job', 'quick', ...flags], { cwd: ws.dir, env: env() });
      let stderr = '';
      waiter.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      await waitUntil(`${how}: the second run to wait`, () => /cluster testc is locked by pid \d+ .*; waiting up to 120 s/.test(stderr));
      await writeFile(path.join(ws.dir, 'release'), '');
      const [h, w] = await Promise.all([holder, waiter]);
      expect(h.exitCode, String(h.stderr)).toBe(0);
      expect(w.exitCode, stderr).toBe(0);
      expect((await archivesIn('quick')).length).toBeGreaterThanOrEqual(1);
    }
  }, 120_000);
});
