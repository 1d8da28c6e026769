/**
 * Prometheus metrics through the built CLI: `apply`/`run --metrics-textfile` after a good and a
 * failing run (checked by promtool check metrics and read back with a text-format parser), and
 * `schedule --metrics-listen` scraped over HTTP, its last-success figures rebuilt from the
 * target's catalog after a restart.
 */
import { execa } from 'execa';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseSamples, type Sample } from '../../engine/metrics/text-format.js';
import { recipeYaml, runCli, spawnCli, succeeded, workspace, cliOutput } from '../helpers/cli.js';
import { jsonLines } from '../helpers/lines.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let child: ReturnType<typeof spawnCli> | undefined;
const env = () => ({ XDG_CACHE_HOME: path.join(ws.dir, 'cache') });

beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await child?.catch(() => undefined);
  child = undefined;
  await ws.cleanup();
});

const writeRecipe = (run: string) =>
  ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: ${run}\n      output: out.txt\n`));

/** promtool's own check of the exposition (exit 0: valid; lint remarks are printed, not failures), then the samples. */
async function checkedSamples(text: string): Promise<Sample[]> {
  const r = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
  expect(r.stderr + r.stdout).not.toMatch(/error while linting|text format parsing error/);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return parseSamples(text);
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function archivesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.tar.gz')).sort();
}

describe('--metrics-textfile', () => {
  it('apply: a good run, then a failing one: status, counters, size, component × host, free space; the last success stays', async () => {
    const target = path.join(ws.dir, 'backups');
    const textfile = path.join(ws.dir, 'prom', 'lsbackup.prom');
    await ws.write('prom/.keep', '');
    const apply = () =>
      runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '--cluster', 'shop', '-t', target, '--metrics-textfile', textfile], {
        env: env(),
      });

    await writeRecipe('echo hello');
    succeeded(await apply());
    const good = await checkedSamples(await readFile(textfile, 'utf8'));
    const job = { cluster: 'shop', backup_job: 'apply' };
    const [archive] = await archivesIn(target);
    expect(valueOf(good, 'lsbackup_last_run_status', { ...job, status: 'success' })).toBe(1);
    expect(valueOf(good, 'lsbackup_last_run_status', { ...job, status: 'failed' })).toBe(0);
    expect(valueOf(good, 'lsbackup_runs_total', { ...job, status: 'success' })).toBe(1);
    expect(valueOf(good, 'lsbackup_last_run_archive_bytes', job)).toBe((await stat(path.join(target, archive!))).size);
    expect(valueOf(good, 'lsbackup_component_host_status', { ...job, component: 'app', host: 'localhost', status: 'success' })).toBe(1);
    expect(valueOf(good, 'lsbackup_last_run_duration_seconds', job)).toBeGreaterThan(0);
    expect(valueOf(good, 'lsbackup_target_free_bytes', { target })).toBeGreaterThan(0);
    const lastSuccess = valueOf(good, 'lsbackup_last_success_timestamp_seconds', job)!;
    expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(3600);

    await writeRecipe('exit 3');
    const failed = await apply();
    expect(failed.exitCode, cliOutput(failed)).toBe(1);
    const bad = await checkedSamples(await readFile(textfile, 'utf8'));
    expect(valueOf(bad, 'lsbackup_last_run_status', { ...job, status: 'failed' })).toBe(1);
    expect(valueOf(bad, 'lsbackup_last_run_status', { ...job, status: 'success' })).toBe(0);
    expect(valueOf(bad, 'lsbackup_runs_total', { ...job, status: 'success' })).toBe(1);
    expect(valueOf(bad, 'lsbackup_runs_total', { ...job, status: 'failed' })).toBe(1);
    expect(valueOf(bad, 'lsbackup_last_success_timestamp_seconds', job)).toBe(lastSuccess);
    expect(valueOf(bad, 'lsbackup_component_host_status', { ...job, component: 'app', host: 'localhost', status: 'failed' })).toBe(1);
    // Written by rename: no temp file left beside it.
    expect(await readdir(path.dirname(textfile))).toEqual(['.keep', 'lsbackup.prom']);
  });

  it('run: the job names the series; a file that is not a metrics file, or a missing directory, stops the run before anything happens', async () => {
    await writeRecipe('echo hello');
    await ws.write(
      'lsbackup.config.yaml',
      'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\njobs:\n  nightly:\n    targets: [./backups]\n',
    );
    succeeded(await runCli(['run', '--metrics-textfile', 'm.prom'], { cwd: ws.dir, env: env() }));
    const samples = await checkedSamples(await readFile(path.join(ws.dir, 'm.prom'), 'utf8'));
    expect(valueOf(samples, 'lsbackup_last_run_status', { cluster: 'shop', backup_job: 'nightly', status: 'success' })).toBe(1);

    await ws.write('notes.txt', 'my notes\n');
    const refused = await runCli(['run', '--metrics-textfile', 'notes.txt'], { cwd: ws.dir, env: env() });
    expect(refused.exitCode, cliOutput(refused)).toBe(64);
    expect(refused.stderr).toMatch(/--metrics-textfile notes\.txt: line 1: not a sample: my notes; it is not a metrics file lsbackup wrote/);
    expect(await readFile(path.join(ws.dir, 'notes.txt'), 'utf8')).toBe('my notes\n');
    const nowhere = await runCli(['run', '--metrics-textfile', 'missing/m.prom'], { cwd: ws.dir, env: env() });
    expect(nowhere.exitCode, cliOutput(nowhere)).toBe(64);
    expect(nowhere.stderr).toMatch(/--metrics-textfile missing\/m\.prom: directory .*missing is not writable \(ENOENT\); create it or name another file/);
    // Was: `unexpected error (please report): EISDIR` with a stack trace.
    const aDirectory = await runCli(['run', '--metrics-textfile', 'build'], { cwd: ws.dir, env: env() });
    expect(aDirectory.exitCode, cliOutput(aDirectory)).toBe(64);
    expect(aDirectory.stderr).toContain(`--metrics-textfile build: ${path.join(ws.dir, 'build')} is a directory; name a file`);
    expect(aDirectory.stderr).not.toMatch(/unexpected error/);
    expect(await archivesIn(path.join(ws.dir, 'backups'))).toHaveLength(1);
  });
  it('an incremental job: the size pair the "size dropped" alert compares stays the fulls\', in the textfile and as the catalog seeds it', async () => {
    // Random bytes that do not change: the full stores them, the incrementals only refer to them.
    await ws.write('data/big.bin', randomBytes(256 * 1024).toString('base64'));
    await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${path.join(ws.dir, 'data')}\n`));
    await ws.write(
      'lsbackup.config.yaml',
      'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\njobs:\n' +
        '  nightly:\n    schedule: "0 0 1 1 *"\n    targets: [./backups]\n    incremental: { fullEvery: 7d }\n',
    );
    const run = () => runCli(['run', '--metrics-textfile', 'm.prom'], { cwd: ws.dir, env: env() });
    succeeded(await run());
    const [full] = await archivesIn(path.join(ws.dir, 'backups'));
    const fullBytes = (await stat(path.join(ws.dir, 'backups', full!))).size;
    await ws.write('data/small.txt', 'changed after the full\n');
    succeeded(await run());
    const incremental = (await archivesIn(path.join(ws.dir, 'backups'))).find((n) => n !== full)!;
    const meta = JSON.parse(await readFile(path.join(ws.dir, 'backups', `${incremental}.metadata.json`), 'utf8')) as { kind: string; finishedAt: string };
    expect(meta.kind).toBe('incremental');
    const incrementalBytes = (await stat(path.join(ws.dir, 'backups', incremental))).size;
    expect(incrementalBytes).toBeLessThan(0.7 * fullBytes); // what the alert would have taken for a shrink

    const job = { cluster: 'shop', backup_job: 'nightly' };
    const expectFullsPair = (samples: Sample[]) => {
      expect(valueOf(samples, 'lsbackup_last_success_archive_bytes', job)).toBe(fullBytes);
      expect(valueOf(samples, 'lsbackup_previous_success_archive_bytes', job)).toBeUndefined();
    };
    const recorded = await checkedSamples(await readFile(path.join(ws.dir, 'm.prom'), 'utf8'));
    expect(valueOf(recorded, 'lsbackup_last_run_archive_bytes', job)).toBe(incrementalBytes);
    expect(valueOf(recorded, 'lsbackup_last_success_timestamp_seconds', job)).toBeGreaterThanOrEqual(Date.parse(meta.finishedAt) / 1000);
    expectFullsPair(recorded);

    child = spawnCli(['schedule', '--json', '--metrics-listen', '127.0.0.1:0'], { cwd: ws.dir, env: env() });
    const url = (await jsonLines(child.stdout!).waitFor((l) => l.type === 'schedule.metrics')).line.url as string;
    const seededSamples = await seeded(url, job);
    // The catalog's time of the newest success: the incremental's.
    expect(valueOf(seededSamples, 'lsbackup_last_success_timestamp_seconds', job)).toBe(Date.parse(meta.finishedAt) / 1000);
    expectFullsPair(seededSamples);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it("two jobs sharing one textfile: a run that ends later keeps what another job's run recorded meanwhile (its failure is not undone)", async () => {
    // 'nightly' reads the textfile, then waits in its snapshot step until the test lets it go;
    // meanwhile 'hourly' (another cluster, another target) fails and records that.
    await ws.write('build-b/inventory', '[app]\nlocalhost ansible_connection=local\n');
    await execa('mkfifo', [path.join(ws.dir, 'go')]);
    await ws.write(
      'recipes/app.yaml',
      recipeYaml(
        'app',
        'hosts: { group: app }\nvars: { mode: ok }\nbackup:\n  snapshot:\n' +
          '    - run: if [ "{{vars.mode}}" = wait ]; then touch "$WS/started"; read line < "$WS/go"; fi; if [ "{{vars.mode}}" = fail ]; then exit 3; fi; echo hello\n' +
          '      output: out.txt\n',
      ),
    );
    await ws.write(
      'lsbackup.config.yaml',
      'apiVersion: lsbackup/v1\nkind: Config\nrecipes: [./recipes]\njobs:\n' +
        '  nightly:\n    cluster: shop\n    build: ./build\n    targets: [./backups-a]\n    components: { vars: { app: { mode: wait } } }\n' +
        '  hourly:\n    cluster: shelf\n    build: ./build-b\n    targets: [./backups-b]\n    components: { vars: { app: { mode: fail } } }\n',
    );
    const runEnv = { ...env(), WS: ws.dir };
    const textfile = path.join(ws.dir, 'm.prom');
    child = spawnCli(['run', '--job', 'nightly', '--metrics-textfile', textfile], { cwd: ws.dir, env: runEnv });
    await vi.waitFor(() => stat(path.join(ws.dir, 'started')), { timeout: 60_000, interval: 50 });
    const hourly = await runCli(['run', '--job', 'hourly', '--metrics-textfile', textfile], { cwd: ws.dir, env: runEnv });
    expect(hourly.exitCode, cliOutput(hourly)).toBe(1);
    await writeFile(path.join(ws.dir, 'go'), 'go\n');
    const nightly = await child;
    child = undefined;
    expect(nightly.exitCode, `${String(nightly.stdout)}${String(nightly.stderr)}`).toBe(0);

    const samples = await checkedSamples(await readFile(textfile, 'utf8'));
    const of = (job: string, cluster: string, status: string) => ({ cluster, backup_job: job, status });
    expect(valueOf(samples, 'lsbackup_last_run_status', of('nightly', 'shop', 'success'))).toBe(1);
    expect(valueOf(samples, 'lsbackup_last_run_status', of('hourly', 'shelf', 'failed'))).toBe(1);
    expect(valueOf(samples, 'lsbackup_runs_total', of('hourly', 'shelf', 'failed'))).toBe(1);
  });
});

/** Free space of the 'often' job's target (recorded after its run is counted). */
const oftenFree = (samples: Sample[]) => samples.find((s) => s.name === 'lsbackup_target_free_bytes' && s.labels.target?.endsWith('often'))?.value;

/** Scrapes `url` until the job of `labels` has a last success (read from the catalog in the background), generously. */
async function seeded(url: string, labels: Record<string, string>): Promise<Sample[]> {
  const deadline = Date.now() + 120_000;
  let samples: Sample[] = [];
  while (valueOf(samples, 'lsbackup_last_success_timestamp_seconds', labels) === undefined) {
    if (Date.now() > deadline) throw new Error(`${labels.backup_job} never seeded:\n${JSON.stringify(samples, null, 1)}`);
    await new Promise((r) => setTimeout(r, 200));
    samples = await checkedSamples(await (await fetch(url)).text());
  }
  return samples;
}

describe('schedule --metrics-listen', () => {
  it("serves /metrics: after a restart the last success comes from the target's catalog, and each run is counted", async () => {
    await writeRecipe('echo hello');
    // 'nightly' never fires during the test (1 January); 'often' fires every second into its own target.
    await ws.write(
      'lsbackup.config.yaml',
      'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\njobs:\n' +
        '  nightly:\n    schedule: "0 0 1 1 *"\n    targets: [./nightly]\n' +
        '  often:\n    schedule: "* * * * * *"\n    targets: [./often]\n',
    );
    // Two earlier runs of 'nightly', as a scheduler before the restart made them.
    succeeded(await runCli(['run', '--job', 'nightly'], { cwd: ws.dir, env: env() }));
    await writeRecipe('head -c 5000 /dev/urandom | base64');
    succeeded(await runCli(['run', '--job', 'nightly'], { cwd: ws.dir, env: env() }));
    const stored = await archivesIn(path.join(ws.dir, 'nightly'));
    const newest = JSON.parse(await readFile(path.join(ws.dir, 'nightly', `${stored[1]}.metadata.json`), 'utf8')) as { finishedAt: string };

    child = spawnCli(['schedule', '--json', '--metrics-listen', '127.0.0.1:0'], { cwd: ws.dir, env: env() });
    const log = jsonLines(child.stdout!);
    const url = (await log.waitFor((l) => l.type === 'schedule.metrics')).line.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await log.waitFor((l) => l.type === 'schedule.done' && l.job === 'often');

    // Wait (generously) until the scrape shows both the catalog's figures and a counted run.
    const nightly = { cluster: 'shop', backup_job: 'nightly' };
    let samples: Sample[] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      samples = await checkedSamples(await res.text());
      if (
        valueOf(samples, 'lsbackup_last_success_timestamp_seconds', nightly) !== undefined &&
        valueOf(samples, 'lsbackup_runs_total', { backup_job: 'often' })
      )
        break;
      if (Date.now() > deadline) throw new Error(`metrics never complete:\n${JSON.stringify(samples, null, 1)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(valueOf(samples, 'lsbackup_last_success_timestamp_seconds', nightly)).toBe(Date.parse(newest.finishedAt) / 1000);
    expect(valueOf(samples, 'lsbackup_last_success_archive_bytes', nightly)).toBe((await stat(path.join(ws.dir, 'nightly', stored[1]!))).size);
    expect(valueOf(samples, 'lsbackup_previous_success_archive_bytes', nightly)).toBe((await stat(path.join(ws.dir, 'nightly', stored[0]!))).size);
    expect(valueOf(samples, 'lsbackup_last_run_status', { cluster: 'shop', backup_job: 'often', status: 'success' })).toBe(1);
    expect(oftenFree(samples)).toBeGreaterThan(0);
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);

    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });
  it('a backup a verify found damaged is no last success: after a restart the catalog gives the newest one that restores', async () => {
    await writeRecipe('head -c 5000 /dev/urandom | base64');
    await ws.write(
      'lsbackup.config.yaml',
      'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\njobs:\n  nightly:\n    schedule: "0 0 1 1 *"\n    targets: [./nightly]\n',
    );
    succeeded(await runCli(['run', '--job', 'nightly'], { cwd: ws.dir, env: env() }));
    succeeded(await runCli(['run', '--job', 'nightly'], { cwd: ws.dir, env: env() }));
    const [good, damaged] = await archivesIn(path.join(ws.dir, 'nightly'));
    const goodMeta = JSON.parse(await readFile(path.join(ws.dir, 'nightly', `${good}.metadata.json`), 'utf8')) as { finishedAt: string };
    // The newest copy rots on the disk; a verify finds it and records it damaged.
    const file = path.join(ws.dir, 'nightly', damaged!);
    const bytes = await readFile(file);
    bytes.fill(0x58, 200, 260);
    await writeFile(file, bytes);
    const verified = await runCli(['verify', damaged!, '-t', path.join(ws.dir, 'nightly')], { cwd: ws.dir, env: env() });
    expect(verified.exitCode, cliOutput(verified)).toBe(1);
    expect(verified.stdout).toContain(`recorded       in the target (${damaged}.damaged)`);

    child = spawnCli(['schedule', '--json', '--metrics-listen', '127.0.0.1:0'], { cwd: ws.dir, env: env() });
    const log = jsonLines(child.stdout!);
    const url = (await log.waitFor((l) => l.type === 'schedule.metrics')).line.url as string;
    const labels = { cluster: 'shop', backup_job: 'nightly' };
    const samples = await seeded(url, labels);
    expect(valueOf(samples, 'lsbackup_last_success_timestamp_seconds', labels)).toBe(Date.parse(goodMeta.finishedAt) / 1000);
    expect(valueOf(samples, 'lsbackup_last_success_archive_bytes', labels)).toBe((await stat(path.join(ws.dir, 'nightly', good!))).size);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('a job a reload takes out of the config leaves /metrics (its last success would age into a no-recent-success alert)', async () => {
    await writeRecipe('echo hello');
    const header = 'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\njobs:\n';
    const nightly = '  nightly:\n    schedule: "0 0 1 1 *"\n    targets: [./nightly]\n';
    const weekly = '  weekly:\n    schedule: "0 0 1 1 *"\n    targets: [./weekly]\n';
    await ws.write('lsbackup.config.yaml', header + nightly + weekly);
    succeeded(await runCli(['run', '--job', 'nightly'], { cwd: ws.dir, env: env() }));
    succeeded(await runCli(['run', '--job', 'weekly'], { cwd: ws.dir, env: env() }));
    child = spawnCli(['schedule', '--json', '--metrics-listen', '127.0.0.1:0'], { cwd: ws.dir, env: env() });
    const log = jsonLines(child.stdout!);
    const url = (await log.waitFor((l) => l.type === 'schedule.metrics')).line.url as string;
    await seeded(url, { cluster: 'shop', backup_job: 'nightly' });
    await seeded(url, { cluster: 'shop', backup_job: 'weekly' });

    await ws.write('lsbackup.config.yaml', header + nightly);
    child.kill('SIGHUP');
    await log.waitFor((l) => l.type === 'schedule.reload' && !(l.jobs as string[]).includes('weekly'));
    const samples = await checkedSamples(await (await fetch(url)).text());
    expect(samples.filter((s) => s.labels.backup_job === 'weekly')).toEqual([]);
    expect(valueOf(samples, 'lsbackup_last_success_timestamp_seconds', { cluster: 'shop', backup_job: 'nightly' })).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('a job added by a reload (SIGHUP) gets its last success from the catalog too', async () => {
    await writeRecipe('echo hello');
    const header = 'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\njobs:\n';
    const nightly = '  nightly:\n    schedule: "0 0 1 1 *"\n    targets: [./nightly]\n';
    const weekly = '  weekly:\n    schedule: "0 0 1 1 *"\n    targets: [./weekly]\n';
    // A backup of job 'weekly' made before the scheduler knew the job (by a config of its own).
    await ws.write('other.yaml', header + weekly);
    succeeded(await runCli(['run', '--job', 'weekly', '--config', 'other.yaml'], { cwd: ws.dir, env: env() }));
    const [stored] = await archivesIn(path.join(ws.dir, 'weekly'));
    const meta = JSON.parse(await readFile(path.join(ws.dir, 'weekly', `${stored}.metadata.json`), 'utf8')) as { finishedAt: string };

    await ws.write('lsbackup.config.yaml', header + nightly);
    child = spawnCli(['schedule', '--json', '--metrics-listen', '127.0.0.1:0'], { cwd: ws.dir, env: env() });
    const log = jsonLines(child.stdout!);
    const url = (await log.waitFor((l) => l.type === 'schedule.metrics')).line.url as string;
    await ws.write('lsbackup.config.yaml', header + nightly + weekly);
    child.kill('SIGHUP');
    await log.waitFor((l) => l.type === 'schedule.reload' && (l.jobs as string[]).includes('weekly'));

    const labels = { cluster: 'shop', backup_job: 'weekly' };
    const samples = await seeded(url, labels);
    expect(valueOf(samples, 'lsbackup_last_success_timestamp_seconds', labels)).toBe(Date.parse(meta.finishedAt) / 1000);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });
});
