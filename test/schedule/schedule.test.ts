/**
 * `lsbackup schedule` as a long-running process (the built CLI): cron firing with croner's
 * seconds field, no overlapping runs, hot reload of the config, graceful SIGTERM.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, spawnCli, workspace } from '../helpers/cli.js';
import { jsonLines } from '../helpers/lines.js';

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
  child = spawnCli(['schedule', '--json'], { cwd: ws.dir });
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
    expect(invalid.line.problems).toEqual([expect.stringMatching(/lsbackup\.config\.yaml:11:15: 'jobs\.broken\.schedule' '99 \* \* \* \*' is not a valid cron expression/)]);
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
      recipeYaml('slow', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: sleep 2.5; echo slow\n      output: slow.txt\n  post:\n    - run: touch ${ws.dir}/post-ran-$$\n`),
    );
    await writeConfig(`jobs:\n  slow:\n    schedule: "* * * * * *"\n    targets: [./slow]\n    components: { only: [slow] }\n`);
    const log = startScheduler();
    await log.waitFor(ofJob('schedule.done', 'slow'), { timeoutMs: 10_000 });
    const skip = await log.waitFor(ofJob('schedule.skip', 'slow'));
    expect(skip.line.message).toMatch(/still running; skipped this tick/);
    // Fires and completions alternate: never two runs of one job at once.
    const sequence = log.lines.filter((l) => l.job === 'slow' && (l.type === 'schedule.fire' || l.type === 'schedule.done')).map((l) => l.type);
    sequence.forEach((t, i) => expect(t).toBe(i % 2 === 0 ? 'schedule.fire' : 'schedule.done'));

    // Stop in the middle of a run: its post-steps run, then the process exits.
    const nextFire = await log.waitFor(ofJob('schedule.fire', 'slow'), { from: log.lines.length });
    await new Promise((r) => setTimeout(r, 500));
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
