/**
 * runJob in-process (unit tier), through its exported API only: a config file and a job, hosts
 * reached with ansible_connection=local (commands run by sh as the current user, no root), local
 * directory targets. Covered here: the status rollup into the run report, copies and retention in
 * each target, sidecars, age encryption from the config. The same through the built CLI and the
 * scheduler: test/jobs/run.int.test.ts, test/schedule/schedule.int.test.ts. A copy missing from one
 * of two targets (a target runJob cannot be handed as a fake): test/runner/run-backup.test.ts.
 */
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../engine/config/load.js';
import { runJob } from '../../engine/jobs/run-job.js';
import { selectJob } from '../../engine/jobs/resolve.js';
import { recipeYaml, workspace } from '../helpers/cli.js';
import { keptEvents } from '../helpers/fake-cluster.js';
import { startRecorder } from '../notify/recorder.js';
import type { RunEvent } from '../../engine/report/events.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-runjob-');
  // Locks in the workspace: nothing shared with other tests or runs on this machine.
  vi.stubEnv('XDG_CACHE_HOME', path.join(ws.dir, 'cache'));
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await ws.cleanup();
});

/** Recipes whose one snapshot step runs `command` (real sh on this machine). */
async function recipes(commands: Record<string, string>): Promise<void> {
  for (const [name, command] of Object.entries(commands)) {
    await ws.write(
      `recipes/${name}.yaml`,
      recipeYaml(name, `hosts: { group: app }\nbackup:\n  snapshot:\n    - name: dump\n      run: ${JSON.stringify(command)}\n      output: ${name}.txt\n`),
    );
  }
}

async function runNightly(extraConfig = '') {
  await ws.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\ncluster: testc\nbuild: ./build\nrecipes: [./recipes]\n${extraConfig}jobs:\n  nightly:\n    targets: [./a, ./b]\n`,
  );
  const config = await loadConfig(path.join(ws.dir, 'lsbackup.config.yaml'));
  const kept = keptEvents();
  const report = await runJob(config, selectJob(config, 'nightly'), { reporter: kept.reporter, signal: new AbortController().signal });
  return { report, ...kept };
}

const namesIn = async (dir: string) => (await readdir(path.join(ws.dir, dir))).filter((n) => !n.startsWith('.')).sort();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('runJob: the status rollup into the run report', () => {
  it('every component backed up: success, exit 0, a copy with its sidecars in each target', async () => {
    await recipes({ app: 'echo app-data', other: 'echo other-data' });
    const { report } = await runNightly();
    expect(report).toMatchObject({ job: 'nightly', cluster: 'testc', status: 'success', exitCode: 0 });
    const name = report.archive!;
    expect(report.targets.map((t) => [path.basename(t.target), t.name])).toEqual([
      ['a', name],
      ['b', name],
    ]);
    for (const dir of ['a', 'b']) {
      expect(await namesIn(dir)).toEqual([name, `${name}.metadata.json`, `${name}.sha256`].sort());
      const stored = await readFile(path.join(ws.dir, dir, name));
      const sidecar = await readFile(path.join(ws.dir, dir, `${name}.metadata.json`));
      expect(await readFile(path.join(ws.dir, dir, `${name}.sha256`), 'utf8')).toBe(
        `${sha256(stored)}  ${name}\n${sha256(sidecar)}  ${name}.metadata.json\n# size ${stored.length} ${name}\n`,
      );
    }
    const metadata = JSON.parse(await readFile(path.join(ws.dir, 'a', `${name}.metadata.json`), 'utf8'));
    expect(metadata).toMatchObject({ cluster: 'testc', job: 'nightly', status: 'success' });
    expect(report.components.map((r) => [r.component, r.host, r.status])).toEqual([
      ['app', 'localhost', 'success'],
      ['other', 'localhost', 'success'],
    ]);
  });

  it('one component fails: partial, exit 2, the archive kept; the report names the failed step', async () => {
    await recipes({ app: 'echo app-data', other: 'echo broken >&2; exit 3' });
    const { report } = await runNightly();
    expect(report).toMatchObject({ status: 'partial', exitCode: 2 });
    expect(await namesIn('a')).toContain(report.archive);
    const failed = report.components.find((r) => r.component === 'other')!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/dump/);
  });

  it('every component fails: failed, exit 1, nothing stored in any target', async () => {
    await recipes({ app: 'exit 1', other: 'exit 2' });
    const { report } = await runNightly();
    expect(report).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(report.archive).toBeUndefined();
    for (const dir of ['a', 'b']) expect(await namesIn(dir)).toEqual([]);
  });
});

describe('runJob: retention and encryption from the config', () => {
  it("keeps the newest backups per target by the job's retention, with their sidecars", async () => {
    await recipes({ app: 'echo app-data' });
    const first = await runNightly('retention: { keepLast: 1 }\n');
    const second = await runNightly('retention: { keepLast: 1 }\n');
    expect(second.report.status).toBe('success');
    expect(second.report.archive).not.toBe(first.report.archive);
    const name = second.report.archive!;
    for (const dir of ['a', 'b']) expect(await namesIn(dir)).toEqual([name, `${name}.metadata.json`, `${name}.sha256`].sort());
  });

  it('encryption.recipients: the copies are age files the identity opens; the metadata sidecar too', async () => {
    await recipes({ app: 'echo app-data' });
    const identity = await generateIdentity();
    const { report } = await runNightly(`encryption: { recipients: [${await identityToRecipient(identity)}] }\n`);
    expect(report.status).toBe('success');
    const name = report.archive!;
    expect(name).toMatch(/\.tar\.gz\.age$/);
    expect(await namesIn('b')).toEqual([name, `${name}.metadata.json.age`, `${name}.sha256`].sort());
    const d = new Decrypter();
    d.addIdentity(identity);
    const metadata = JSON.parse(Buffer.from(await d.decrypt(await readFile(path.join(ws.dir, 'b', `${name}.metadata.json.age`)))).toString());
    expect(metadata).toMatchObject({ cluster: 'testc', job: 'nightly', status: 'success' });
  });
});

describe('runJob: an unexpected error (a bug) is a failed run', () => {
  it('the failure is notified and the report says it; runJob returns it instead of throwing past the notifications and metrics', async () => {
    await recipes({ app: 'echo app-data' });
    const hooks = await startRecorder();
    try {
      await ws.write(
        'lsbackup.config.yaml',
        `apiVersion: lsbackup/v1\nkind: Config\ncluster: testc\nbuild: ./build\nrecipes: [./recipes]\njobs:\n  nightly:\n    targets: [./a]\n    notifications:\n      - { type: webhook, url: '${hooks.url}/hook' }\n      - { type: ping, url: '${hooks.url}/ping/uuid' }\n`,
      );
      const config = await loadConfig(path.join(ws.dir, 'lsbackup.config.yaml'));
      const kept = keptEvents();
      // A bug at the end of the backup: not an error lsbackup expects (not an LsError).
      const reporter = { ...kept.reporter, emit: (e: RunEvent) => (e.type === 'run.end' ? thrown() : kept.reporter.emit(e)) };
      const report = await runJob(config, selectJob(config, 'nightly'), { reporter, signal: new AbortController().signal });

      expect(report).toMatchObject({ job: 'nightly', status: 'failed', exitCode: 1, error: 'unexpected error (please report): a bug in the reporter' });
      expect(kept.warnings().join('\n')).toMatch(/^unexpected error \(please report\): TypeError: a bug in the reporter\n\s+at /);
      const bodies = (await hooks.waitFor('/hook', 2)).map((h) => JSON.parse(h.body) as { event: string; status: string; error?: string });
      expect(bodies.map((b) => [b.event, b.status])).toEqual([
        ['start', 'running'],
        ['failure', 'failed'],
      ]);
      expect(bodies[1]!.error).toBe('unexpected error (please report): a bug in the reporter');
      expect((await hooks.waitFor('/ping/uuid/fail'))[0]!.body).toContain('unexpected error (please report): a bug in the reporter');
    } finally {
      await hooks.close();
    }
  });
});

function thrown(): never {
  throw new TypeError('a bug in the reporter');
}
