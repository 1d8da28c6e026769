/**
 * Every run has its own redactor (engine/app/, engine/jobs/run-job.ts): two jobs run in one
 * process, as the scheduler runs them, with real config files, a local inventory
 * (ansible_connection=local), real recipes and local targets. Job A's secret is masked in what
 * A reports; job B, which knows no secret, prints the same text as it is: A's secret did not
 * join B's redactor. (Before, one process-wide redactor collected every run's secrets.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadConfig } from '../../engine/config/load.js';
import { selectJob } from '../../engine/jobs/resolve.js';
import { runJob } from '../../engine/jobs/run-job.js';
import type { Reporter, RunEvent } from '../../engine/report/events.js';
import { recipeYaml, workspace } from '../helpers/cli.js';

const TOKEN = 'tok-alpha-7f3a9c';
let ws: Awaited<ReturnType<typeof workspace>>;
const savedEnv = { ...process.env };

beforeEach(async () => {
  ws = await workspace();
  // Locks in the workspace: nothing shared with other tests or runs on this machine.
  process.env.XDG_CACHE_HOME = path.join(ws.dir, 'cache');
  process.env.APP_TOKEN = TOKEN;
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  // A uses the secret and its failing step quotes it on stderr (the summary shows stderr).
  await ws.write(
    'recipes-a/a.yaml',
    recipeYaml('a', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo token {{secret "APP_TOKEN"}} >&2; exit 3\n      output: a.txt\n`),
  );
  // B has no secret; it prints the same characters as plain text.
  await ws.write(
    'recipes-b/b.yaml',
    recipeYaml('b', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo token ${TOKEN} >&2; exit 3\n      output: b.txt\n`),
  );
  await ws.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\nbuild: ./build\njobs:\n  a:\n    cluster: ca\n    recipes: [./recipes-a]\n    targets: [./backups-a]\n  b:\n    cluster: cb\n    recipes: [./recipes-b]\n    targets: [./backups-b]\n`,
  );
});
afterEach(async () => {
  process.env = { ...savedEnv };
  await ws.cleanup();
});

/** The shared reporter of a scheduler: records what reaches it. */
function recordingReporter(): Reporter & { events: RunEvent[] } {
  const events: RunEvent[] = [];
  return { events, emit: (e) => void events.push(e), close: () => undefined };
}

describe('a redactor per run', () => {
  it("masks job A's secret in A's report and events, and leaves job B's output alone", async () => {
    const config = await loadConfig(path.join(ws.dir, 'lsbackup.config.yaml'));
    const shared = recordingReporter();
    const signal = new AbortController().signal;

    const a = await runJob(config, selectJob(config, 'a'), { reporter: shared, signal });
    const b = await runJob(config, selectJob(config, 'b'), { reporter: shared, signal });

    const rowA = a.components.find((c) => c.component === 'a');
    expect(rowA?.status, JSON.stringify(a)).toBe('failed');
    expect(rowA?.error).toContain('token ***');
    expect(JSON.stringify(a)).not.toContain(TOKEN);
    const eventsA = shared.events.filter((e) => e.job === 'a');
    expect(eventsA.length).toBeGreaterThan(0);
    expect(JSON.stringify(eventsA)).not.toContain(TOKEN);

    const rowB = b.components.find((c) => c.component === 'b');
    expect(rowB?.status, JSON.stringify(b)).toBe('failed');
    expect(rowB?.error).toContain(`token ${TOKEN}`);
    expect(JSON.stringify(shared.events.filter((e) => e.job === 'b'))).toContain(`token ${TOKEN}`);
  }, 120_000);
});
