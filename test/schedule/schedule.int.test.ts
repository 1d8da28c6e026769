/**
 * `lsbackup schedule` as a long-running process (the built CLI): cron firing with croner's
 * seconds field, no overlapping runs, jobs of one cluster queued, hot reload of the config
 * (also after it was removed and created again, and on SIGHUP), graceful SIGTERM.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, spawnCli, workspace } from '../helpers/cli.js';
import { jsonLines } from '../helpers/lines.js';
import { startRecorder } from '../notify/recorder.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let child: ReturnType<typeof spawnCli> | undefined;

beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hi\n      output: hi.txt\n`));
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await child?.catch(() => undefined);
  child = undefined;
  await ws.cleanup();
});

const header = 'apiVersion: lsbackup/v1\nkind: Config\ncluster: sched\nbuild: ./build\nrecipes: [./recipes]\n';
const writeConfig = (body: string) => ws.write('lsbackup.config.yaml', header + body);
const startScheduler = () => {
  // Locks in the workspace: nothing shared with other tests or runs on this machine.
  child = spawnCli(['schedule', '--json'], { cwd: ws.dir, env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
  return jsonLines(child.stdout!);
};
const ofJob = (type: string, job: string) => (l: Record<string, unknown>) => l.type === type && l.job === job;

describe('lsbackup schedule', () => {
  it('fires jobs on their cron, applies a valid config change without restart and keeps the old config on an invalid one', async () => {
    await writeConfig(`jobs:\n  fast:\n    schedule: "* * * * * *"\n    targets: [./fast]\n`);
    const log = startScheduler();
    const started = await log.waitFor((l) => l.type === 'schedule.start');
    expect(started.line.jobs).toEqual([expect.objectContaining({ name: 'fast', schedule: '* * * * * *' })]);
    const done = await log.waitFor(ofJob('schedule.done', 'fast'));
    expect(done.line).toMatchObject({ status: 'success', exitCode: 0 });
    expect((await readdir(path.join(ws.dir, 'fast'))).some((n) => n === done.line.archive)).toBe(true);

    // An invalid edit: reported with file:line:col, the running jobs carry on.
    await writeConfig(`jobs:\n  fast:\n    schedule: "* * * * * *"\n    targets: [./fast]\n  broken:\n    schedule: "99 * * * *"\n`);
    const invalid = await log.waitFor((l) => l.type === 'schedule.invalid');
    expect(invalid.line.problems).toEqual([
      expect.stringMatching(/lsbackup\.config\.yaml:11:15: 'jobs\.broken\.schedule' '99 \* \* \* \*' is not a valid cron expression/),
    ]);
    await log.waitFor(ofJob('schedule.done', 'fast'), { from: invalid.index });

    // A valid edit: 'fast' removed, 'second' added, applied at once.
    await writeConfig(`jobs:\n  second:\n    schedule: "*/2 * * * * *"\n    targets: [./second]\n`);
    const reload = await log.waitFor((l) => l.type === 'schedule.reload');
    expect(reload.line.jobs).toEqual(['second']);
    const changes = log.lines.filter((l) => l.type === 'schedule.job').map((l) => `${l.change} ${l.job}`);
    expect(changes).toEqual(['removed fast', 'added second']);
    const second = await log.waitFor(ofJob('schedule.done', 'second'), { from: reload.index });
    expect(second.line.status).toBe('success');
    // After the reload settled, 'fast' no longer fires.
    const firesAfter = log.lines.slice(reload.index + 1).filter(ofJob('schedule.fire', 'fast'));
    expect(firesAfter.length).toBeLessThanOrEqual(1); // at most one tick already in flight at the reload

    child!.kill('SIGTERM');
    const result = await child!;
    expect(result.exitCode).toBe(0);
    expect(log.lines.at(-1)).toMatchObject({ type: 'schedule.stop', message: 'SIGTERM received' });
  });

  it('never overlaps a slow run (the busy tick is skipped), and SIGTERM lets the run finish its post-steps', async () => {
    await ws.write(
      'recipes/slow.yaml',
      recipeYaml(
        'slow',
        `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${ws.dir}/snapshot-$$; sleep 2.5; echo slow\n      output: slow.txt\n  post:\n    - run: touch ${ws.dir}/post-ran-$$\n`,
      ),
    );
    await writeConfig(`jobs:\n  slow:\n    schedule: "* * * * * *"\n    targets: [./slow]\n    components: { only: [slow] }\n`);
    const log = startScheduler();
    await log.waitFor(ofJob('schedule.done', 'slow'));
    const skip = await log.waitFor(ofJob('schedule.skip', 'slow'));
    expect(skip.line.message).toMatch(/still running; skipped this tick/);
    // The skipped ticks are counted in the report of the run that caused them.
    const overran = await log.waitFor(ofJob('schedule.done', 'slow'), { from: skip.index });
    expect(overran.line.skippedTicks).toBeGreaterThanOrEqual(1);
    // Fires and completions alternate: never two runs of one job at once.
    const sequence = log.lines.filter((l) => l.job === 'slow' && (l.type === 'schedule.fire' || l.type === 'schedule.done')).map((l) => l.type);
    sequence.forEach((t, i) => expect(t).toBe(i % 2 === 0 ? 'schedule.fire' : 'schedule.done'));

    // Stop in the middle of a run: its post-steps run, then the process exits.
    const nextFire = await log.waitFor(ofJob('schedule.fire', 'slow'), { from: log.lines.length });
    // In the middle of that run: its snapshot step has started (one snapshot file per run fired).
    const fired = log.lines.slice(0, nextFire.index + 1).filter(ofJob('schedule.fire', 'slow')).length;
    while ((await readdir(ws.dir)).filter((n) => n.startsWith('snapshot-')).length < fired) await new Promise((r) => setTimeout(r, 50));
    const postsBefore = (await readdir(ws.dir)).filter((n) => n.startsWith('post-ran-')).length;
    child!.kill('SIGTERM');
    const result = await child!;
    expect(result.exitCode).toBe(0);
    const last = await log.waitFor(ofJob('schedule.done', 'slow'), { from: nextFire.index });
    expect(last.line.status).toBe('failed');
    expect(String(last.line.error)).toMatch(/Interrupted by SIGTERM/);
    const postsAfter = (await readdir(ws.dir)).filter((n) => n.startsWith('post-ran-')).length;
    expect(postsAfter).toBe(postsBefore + 1);
    expect(existsSync(path.join(ws.dir, 'slow'))).toBe(true);
  });
});

describe('lsbackup schedule: jobs sharing a cluster, config file replaced, SIGHUP, shutdown', () => {
  it('runs two jobs of one cluster on the same tick one after the other, never failing one on its own lock', async () => {
    await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: sleep 1; echo hi\n      output: hi.txt\n`));
    await writeConfig(
      `jobs:\n  first:\n    schedule: "*/2 * * * * *"\n    targets: [./first]\n  second:\n    schedule: "*/2 * * * * *"\n    targets: [./second]\n`,
    );
    const log = startScheduler();
    const doneOf = (job: string) => log.lines.filter(ofJob('schedule.done', job));
    const until = Date.now() + 90_000;
    while ((doneOf('first').length < 2 || doneOf('second').length < 2) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    child!.kill('SIGTERM');
    await child;
    const all = JSON.stringify(log.lines);
    expect(all).not.toContain('in use by another lsbackup run');
    const finished = [...doneOf('first'), ...doneOf('second')].filter((l) => l.error !== 'SIGTERM received' && !String(l.error).includes('Interrupted'));
    expect(finished.length).toBeGreaterThanOrEqual(4);
    for (const d of finished) expect(d, JSON.stringify(d)).toMatchObject({ status: 'success', exitCode: 0 });
    expect(log.lines.some((l) => l.type === 'schedule.queued')).toBe(true);
    // One after the other: never two runs of the cluster at once.
    let inFlight = 0;
    for (const l of log.lines) {
      if (l.type === 'schedule.fire') inFlight++;
      if (l.type === 'schedule.done') inFlight--;
      expect(inFlight).toBeLessThanOrEqual(1);
    }
    // Every run's events say which job and backup they belong to; the job's line names the backup.
    const ends = log.lines.filter((l) => l.type === 'run.end');
    expect(ends.length).toBeGreaterThanOrEqual(4);
    for (const e of ends) expect(e).toMatchObject({ job: expect.stringMatching(/^(first|second)$/), backupId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const done = doneOf('first')[0]!;
    const start = log.lines.find((l) => l.type === 'run.start' && l.backupId === done.backupId);
    expect(start).toMatchObject({ job: 'first' });
  }, 120_000);

  it('two jobs of one build dir, one reaching it through a link, under other cluster names: queued, not started together', async () => {
    await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: sleep 1; echo hi\n      output: hi.txt\n`));
    await symlink(path.join(ws.dir, 'build'), path.join(ws.dir, 'build-link'));
    await writeConfig(
      `jobs:\n  direct:\n    schedule: "*/2 * * * * *"\n    cluster: one\n    targets: [./direct]\n` +
        `  linked:\n    schedule: "*/2 * * * * *"\n    cluster: two\n    build: ./build-link\n    targets: [./linked]\n`,
    );
    const log = startScheduler();
    const queued = await log.waitFor((l) => l.type === 'schedule.queued', { timeoutMs: 60_000 });
    expect(queued.line.message).toMatch(/^job '(direct|linked)' waits for '(direct|linked)' \(same cluster or target\)$/);
    await log.waitFor((l) => l.type === 'schedule.done' && l.job === queued.line.job, { from: queued.index });
    child!.kill('SIGTERM');
    await child;
    // Was: both fired on the tick, the later waiting on the cluster lock inside its run, unsaid.
    let inFlight = 0;
    for (const l of log.lines) {
      if (l.type === 'schedule.fire') inFlight++;
      if (l.type === 'schedule.done') inFlight--;
      expect(inFlight).toBeLessThanOrEqual(1);
    }
  }, 120_000);

  it('keeps following the config after it was removed and created again', async () => {
    await writeConfig(`jobs:\n  a:\n    schedule: "0 0 1 1 *"\n    targets: [./a]\n`);
    const original = await readFile(path.join(ws.dir, 'lsbackup.config.yaml'), 'utf8');
    const log = startScheduler();
    await log.waitFor((l) => l.type === 'schedule.start');
    await rm(path.join(ws.dir, 'lsbackup.config.yaml'));
    const gone = await log.waitFor((l) => l.type === 'schedule.invalid');
    expect(gone.line.problems).toEqual([expect.stringMatching(/cannot read: ENOENT/)]);
    await ws.write('lsbackup.config.yaml', original);
    const back = await log.waitFor((l) => l.type === 'schedule.reload', { from: gone.index });
    expect(back.line.jobs).toEqual(['a']);
    // A later edit is applied too.
    await writeConfig(`jobs:\n  b:\n    schedule: "0 0 1 1 *"\n    targets: [./b]\n`);
    const edited = await log.waitFor((l) => l.type === 'schedule.reload' && (l.jobs as string[]).includes('b'), { from: back.index });
    expect(edited.line.jobs).toEqual(['b']);
    child!.kill('SIGTERM');
    expect((await child!).exitCode).toBe(0);
  }, 60_000);

  it('keeps following the recipes after their directory was removed and created again (a deploy replacing it)', async () => {
    await writeConfig(`jobs:\n  a:\n    schedule: "0 0 1 1 *"\n    targets: [./a]\n`);
    const recipe = await readFile(path.join(ws.dir, 'recipes', 'app.yaml'), 'utf8');
    const log = startScheduler();
    await log.waitFor((l) => l.type === 'schedule.start');
    await rm(path.join(ws.dir, 'recipes'), { recursive: true });
    const gone = await log.waitFor((l) => l.type === 'schedule.invalid');
    expect(gone.line.problems).toEqual([expect.stringMatching(/recipes: no such file or directory/)]);
    await ws.write('recipes/app.yaml', recipe);
    const back = await log.waitFor((l) => l.type === 'schedule.reload', { from: gone.index });
    expect(back.line.jobs).toEqual(['a']);
    // A later edit of a recipe in the new directory is seen too (here one that is refused).
    await ws.write('recipes/app.yaml', recipe + 'bogus: [\n');
    const edited = await log.waitFor((l) => l.type === 'schedule.invalid', { from: back.index });
    expect(edited.line.problems).toEqual([expect.stringMatching(/app\.yaml:\d+:\d+: YAML syntax error/)]);
    child!.kill('SIGTERM');
    expect((await child!).exitCode).toBe(0);
  }, 60_000);

  it('refuses to start on a job that could only fail (no build dir there, a selection no recipe has), naming file:line:col, exit 78', async () => {
    await writeConfig(`jobs:\n  nightly:\n    schedule: "0 2 * * *"\n    build: ./gone\n    targets: [./a]\n    components: { only: [ap] }\n`);
    child = spawnCli(['schedule'], { cwd: ws.dir, env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
    const r = await child;
    expect(r.exitCode).toBe(78);
    const file = path.join(ws.dir, 'lsbackup.config.yaml');
    expect(r.stderr).toContain(`${file}:9:5: build: no Ansible inventory found at ${path.join(ws.dir, 'gone')}`);
    expect(r.stderr).toContain(`${file}:11:19: components.only names 'ap', which is not one of the recipes (did you mean 'app'?)`);
  }, 60_000);

  it('a reload that would make a job fail at every tick is rejected; the previous configuration keeps running', async () => {
    await writeConfig(`jobs:\n  a:\n    schedule: "0 0 1 1 *"\n    targets: [./a]\n`);
    const log = startScheduler();
    await log.waitFor((l) => l.type === 'schedule.start');
    await writeConfig(`jobs:\n  a:\n    schedule: "0 0 1 1 *"\n    targets: [./a]\n    build: ./gone\n`);
    const rejected = await log.waitFor((l) => l.type === 'schedule.invalid');
    expect(rejected.line.problems).toEqual([expect.stringMatching(/lsbackup\.config\.yaml:10:5: build: no Ansible inventory found at .*gone/)]);
    expect(log.lines.some((l) => l.type === 'schedule.reload')).toBe(false);
    child!.kill('SIGTERM');
    expect((await child!).exitCode).toBe(0);
  }, 60_000);

  /**
   * A config whose check waits until the test lets it go: its S3 target's keys come from a secret
   * command that says it was asked (file `asked`) and answers once the file `go` exists. The
   * check resolves them and never contacts the store. A command left by a killed scheduler ends
   * with the workspace. `jobs` ends with the job that has that target.
   */
  const slowToCheck = (jobs: string) =>
    `secrets:\n  sources:\n    - type: command\n      command: [sh, -c, 'touch ${ws.dir}/asked; while [ ! -e ${ws.dir}/go ] && [ -d ${ws.dir} ]; do sleep 0.05; done; echo key']\n` +
    `jobs:\n${jobs}` +
    `    targets:\n      - uri: s3://bkt/slow\n        options: { endpoint: "http://127.0.0.1:9", forcePathStyle: true, accessKeyId: { secret: K }, secretAccessKey: { secret: S } }\n`;
  const untilExists = async (name: string) => {
    while (!existsSync(path.join(ws.dir, name))) await new Promise((r) => setTimeout(r, 50));
  };
  const reloadOf = (jobs: string[]) => (l: Record<string, unknown>) => l.type === 'schedule.reload' && JSON.stringify(l.jobs) === JSON.stringify(jobs);

  it('a reload still checking an older file never lands over the newer one saved meanwhile: the file as saved last runs', async () => {
    await writeConfig(`jobs:\n  zero:\n    schedule: "0 0 1 1 *"\n    targets: [./zero]\n`);
    await ws.write('go', '');
    const log = startScheduler();
    await log.waitFor((l) => l.type === 'schedule.start');
    // Saved first: job 'older', whose check waits on the secret command.
    await rm(path.join(ws.dir, 'go'));
    await writeConfig(slowToCheck(`  older:\n    schedule: "0 0 1 1 *"\n`));
    await untilExists('asked');
    // Saved while that check goes on: job 'newer', quick to check. Its reload waits (was: went ahead).
    await writeConfig(`jobs:\n  newer:\n    schedule: "0 0 1 1 *"\n    targets: [./newer]\n`);
    const seen = await log.waitFor((l) => l.type === 'schedule.reload.pending' || reloadOf(['newer'])(l));
    expect(seen.line).toMatchObject({ type: 'schedule.reload.pending', trigger: 'file change' });
    expect(seen.line.message).toBe('reload (file change) waits for the reload in progress (checking the jobs); it reads the file as it is then');
    await ws.write('go', '');
    const older = await log.waitFor(reloadOf(['older']));
    // Was: 'newer' applied first, then the older file over it, and the scheduler ran 'older' for good.
    const newer = await log.waitFor(reloadOf(['newer']), { from: older.index, timeoutMs: 30_000 });
    expect(log.lines.slice(newer.index + 1).filter((l) => l.type === 'schedule.reload')).toEqual([]);
    child!.kill('SIGTERM');
    expect((await child!).exitCode).toBe(0);
  }, 90_000);

  /** Starts the scheduler on job 'first', does `meanwhile` while it checks the jobs, then lets the check end. */
  const startWhileChecking = async (meanwhile: () => Promise<unknown>) => {
    await writeConfig(slowToCheck(`  first:\n    schedule: "0 0 1 1 *"\n`));
    const log = startScheduler();
    await untilExists('asked');
    await meanwhile();
    await ws.write('go', '');
    const started = await log.waitFor((l) => l.type === 'schedule.start');
    expect(started.line.jobs).toEqual([expect.objectContaining({ name: 'first' })]);
    return { log, started };
  };

  it('an edit saved while the scheduler starts (checking the jobs) is applied once it runs', async () => {
    const { log, started } = await startWhileChecking(() =>
      writeConfig(slowToCheck(`  first:\n    schedule: "0 0 1 1 *"\n    targets: [./first]\n  second:\n    schedule: "0 0 1 1 *"\n`)),
    );
    // Was: unseen (the file was watched only once it had been read); the scheduler ran it as it was.
    const reload = await log.waitFor(reloadOf(['first', 'second']), { from: started.index, timeoutMs: 30_000 });
    expect(reload.line.trigger).toBe('file change');
    child!.kill('SIGTERM');
    expect((await child!).exitCode).toBe(0);
  }, 90_000);

  it('SIGHUP while the scheduler starts (systemctl start, then systemctl reload) reloads once it runs', async () => {
    const { log, started } = await startWhileChecking(async () => child!.kill('SIGHUP'));
    expect(log.lines.find((l) => l.type === 'schedule.reload.pending')?.message).toBe(
      'reload (SIGHUP) waits for the start-up (checking the jobs); it reads the file as it is then',
    );
    // Was: dropped without a word.
    const reload = await log.waitFor((l) => l.type === 'schedule.reload', { from: started.index, timeoutMs: 30_000 });
    expect(reload.line).toMatchObject({ trigger: 'SIGHUP', jobs: ['first'] });
    child!.kill('SIGTERM');
    expect((await child!).exitCode).toBe(0);
  }, 90_000);

  it('SIGHUP reloads the configuration; the run in progress goes on and the scheduler keeps running', async () => {
    await ws.write(
      'recipes/slow.yaml',
      recipeYaml('slow', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${ws.dir}/started; sleep 2; echo slow\n      output: slow.txt\n`),
    );
    await writeConfig(`jobs:\n  slow:\n    schedule: "* * * * * *"\n    targets: [./slow]\n    components: { only: [slow] }\n`);
    const log = startScheduler();
    const fired = await log.waitFor(ofJob('schedule.fire', 'slow'));
    while (!existsSync(path.join(ws.dir, 'started'))) await new Promise((r) => setTimeout(r, 50));
    child!.kill('SIGHUP');
    const reload = await log.waitFor((l) => l.type === 'schedule.reload');
    expect(reload.line).toMatchObject({ trigger: 'SIGHUP', jobs: ['slow'] });
    const done = await log.waitFor(ofJob('schedule.done', 'slow'), { from: fired.index });
    expect(done.line).toMatchObject({ status: 'success' });
    expect(child!.exitCode).toBe(null);
    await log.waitFor(ofJob('schedule.fire', 'slow'), { from: done.index });
    child!.kill('SIGTERM');
    const result = await child!;
    expect(result.exitCode).toBe(0);
    expect(log.lines.at(-1)).toMatchObject({ type: 'schedule.stop', message: 'SIGTERM received' });
  }, 60_000);

  it('a second stop signal exits at once (130) whichever it is: SIGINT after SIGTERM while a post-step still runs', async () => {
    await ws.write(
      'recipes/slow.yaml',
      recipeYaml(
        'slow',
        `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${ws.dir}/started; sleep 30\n      output: slow.txt\n` +
          // Runs until the workspace is removed (afterEach): the exit leaves it behind.
          `  post:\n    - run: touch ${ws.dir}/post-started; while [ -d ${ws.dir} ]; do sleep 0.1; done\n`,
      ),
    );
    await writeConfig(`jobs:\n  slow:\n    schedule: "* * * * * *"\n    targets: [./slow]\n    components: { only: [slow] }\n`);
    const log = startScheduler();
    await untilExists('started');
    child!.kill('SIGTERM');
    await untilExists('post-started');
    child!.kill('SIGINT');
    // Was: exit 0 at once, as if the stop had been graceful (the SIGINT was taken for a first stop,
    // which found the scheduler stopping and returned), the post-step still running.
    expect((await child!).exitCode).toBe(130);
    expect(log.lines.some((l) => l.type === 'schedule.stop')).toBe(false);
  }, 90_000);

  it('on SIGTERM a hanging endpoint gets one attempt of the outcome, and the wait is said with its bound', async () => {
    const hooks = await startRecorder(() => 'hang');
    try {
      await ws.write(
        'recipes/slow.yaml',
        recipeYaml('slow', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${ws.dir}/started; sleep 30\n      output: slow.txt\n`),
      );
      await writeConfig(
        `jobs:\n  slow:\n    schedule: "* * * * * *"\n    targets: [./slow]\n    components: { only: [slow] }\n` +
          `    notifications:\n      - type: webhook\n        url: ${hooks.url}/hook\n        timeout: 2\n        retries: 3\n`,
      );
      const log = startScheduler();
      await log.waitFor(ofJob('schedule.fire', 'slow'));
      while (!existsSync(path.join(ws.dir, 'started'))) await new Promise((r) => setTimeout(r, 50));
      child!.kill('SIGTERM');
      expect((await child!).exitCode).toBe(0);
      const waiting = log.lines.find((l) => l.type === 'warning' && String(l.message).startsWith('stopping: waiting up to'));
      expect(waiting, JSON.stringify(log.lines)).toMatchObject({ job: 'slow' });
      expect(waiting!.message).toMatch(
        /^stopping: waiting up to \d+ s for \d notification\(s\) to be delivered \(no retries\): .*webhook http:\/\/127\.0\.0\.1:\d+\/… \(failure\)$/,
      );
      const failures = hooks.received.filter((h) => JSON.parse(h.body).event === 'failure');
      expect(failures).toHaveLength(1);
      expect(log.lines.some((l) => l.type === 'warning' && /\(failure\) failed: no answer within 2s; not retried: stopping/.test(String(l.message)))).toBe(
        true,
      );
    } finally {
      await hooks.close();
    }
  }, 90_000);
});
