/**
 * A component the inventory puts on a host is never silently left out: a failed detect, or a
 * run: first group whose hosts are all unreachable or without it, fails that component (exit 2
 * when something else was backed up) with the reason; only a recipe marked `optional` may be
 * "not installed", and says so in the summary, metadata.json and --json.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import path from 'node:path';
import { archivesIn, readMetadata } from '../helpers/archive.js';
import { cliOutput, recipeYaml, runCli, summaryRows, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
const recipe = (name: string, spec: string) =>
  ws.write(`recipes/${name}.yaml`, recipeYaml(name, `${spec}\nbackup:\n  snapshot:\n    - run: echo ${name}\n      output: out.txt\n`));
const apply = (...extra: string[]) =>
  runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'out'), ...extra]);

async function onlyBackup() {
  const names = await archivesIn(path.join(ws.dir, 'out'));
  expect(names).toHaveLength(1);
  return readMetadata(path.join(ws.dir, 'out', names[0]!));
}

/** A TCP port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeEach(async () => {
  ws = await workspace('lsb-noskip-');
  await recipe('present', 'hosts: { group: app }');
});
afterEach(() => ws.cleanup());

describe('detect fails on a host of the group', () => {
  beforeEach(() => ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n'));

  it('run: all — that host fails with the detect command and its output; exit 2, archive kept as partial', async () => {
    await recipe('absent', 'hosts: { group: app, run: all }\ndetect: echo "no /etc/absent here" >&2; false');
    const r = await apply();
    expect(r.exitCode, cliOutput(r)).toBe(2);
    expect(r.stderr).toMatch(
      /absent @ localhost: failed .*not installed, but the inventory puts it here: detect `echo "no \/etc\/absent here" >&2; false` exited 1: no \/etc\/absent here/,
    );
    const meta = await onlyBackup();
    expect(meta.status).toBe('partial');
    expect(meta.components.find((c) => c.name === 'absent')).toMatchObject({ status: 'failed' });
  });

  it('run: first — no host passing detect fails the component', async () => {
    await recipe('absent', 'hosts: { group: app, run: first }\ndetect: "false"');
    const r = await apply();
    expect(r.exitCode, cliOutput(r)).toBe(2);
    expect(summaryRows(r.stdout)).toContainEqual([
      'absent',
      'localhost',
      'failed',
      '0 B',
      expect.any(String),
      expect.stringMatching(/^no host of the group backed it up; here: not detected \(detect `false`/),
    ]);
  });

  it('optional: true — reported "not installed" in the summary, metadata.json and --json; exit 0', async () => {
    await recipe('extra', 'hosts: { group: app, run: first }\noptional: true\ndetect: "false"');
    const r = await apply('--json');
    expect(r.exitCode, cliOutput(r)).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    const end = events.find((e) => e.type === 'run.end') as unknown as { summary: { component: string; status: string; error?: string }[] };
    expect(end.summary.find((s) => s.component === 'extra')).toMatchObject({
      status: 'skipped',
      error: expect.stringMatching(/^not installed \(optional; detect `false` exited 1\)/),
    });
    const meta = await onlyBackup();
    expect(meta.status).toBe('success');
    expect(meta.components.find((c) => c.name === 'extra')).toMatchObject({ status: 'skipped', error: expect.stringMatching(/^not installed/) });
  });
});

describe('run: first over SSH', () => {
  it('every host of the group unreachable fails the component (was: skipped, exit 0)', async () => {
    const [p1, p2] = [await closedPort(), await closedPort()];
    await ws.write(
      'build/inventory',
      `[app]\nlocalhost ansible_connection=local\n[db]\ndb1 ansible_host=127.0.0.1 ansible_port=${p1}\ndb2 ansible_host=127.0.0.1 ansible_port=${p2}\n`,
    );
    await recipe('db', 'hosts: { group: db, run: first }');
    const r = await apply();
    expect(r.exitCode, cliOutput(r)).toBe(2);
    for (const host of ['db1', 'db2']) {
      expect(summaryRows(r.stdout)).toContainEqual([
        'db',
        host,
        'failed',
        '0 B',
        expect.any(String),
        expect.stringMatching(/^no host of the group backed it up; here: unreachable/),
      ]);
    }
  });

  it('a first host without the component hands over to the next that has it', async () => {
    const p1 = await closedPort();
    await ws.write('build/inventory', `[db]\ndown ansible_host=127.0.0.1 ansible_port=${p1}\nlocalhost ansible_connection=local\n[app]\nlocalhost\n`);
    await recipe('db', 'hosts: { group: db, run: first }\ndetect: "true"');
    const r = await apply();
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stderr).toMatch(/unreachable, trying the next host/);
  });
});
