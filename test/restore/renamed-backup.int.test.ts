/**
 * A backup restored by a name that is not its own: two backups swapped with all their sidecars,
 * another cluster's backup copied under a name of this cluster. The name carries a cluster and a
 * time, the archive's own metadata.json the run that made it (engine/archive/made-as.ts): verify
 * and show say which backup it is (verify exit 0: it is intact), restore says it in its plan and
 * output before any host is touched and restores that backup's data, and refuses another
 * cluster's unless --allow-renamed-cluster. Real CLI, local targets, one host of the real sshd
 * fleet; plain and age-encrypted, staged and --stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { parseBackupName } from '../../engine/archive/index.js';
import { swapBackups } from '../helpers/archive.js';

const KINDS = ['plain', 'encrypted'] as const;
type Kind = (typeof KINDS)[number];

let ws: Awaited<ReturnType<typeof workspace>>;
let fleet: Fleet;
let build: string;
let recipes: string;
let data: string;
let identity: string;
/** Per kind: the target holding two backups of cluster 'build', the older holding 'first', the newer 'second'. */
const made = new Map<Kind, { target: string; older: string; newer: string; olderStartedAt: string; newerStartedAt: string }>();
/** A backup of cluster 'other' (data 'other cluster'), plain. */
let otherTarget: string;
let otherName: string;
let otherStartedAt: string;

const access = (kind: Kind) => (kind === 'encrypted' ? ['--identity', identity] : []);
/** `<cluster>-<time>` of an archive name: what a backup made as it is called. */
const label = (name: string) => name.replace(/^lsbackup-/, '').replace(/(_\d+)?\.tar\.zst(\.age)?$/, '');
const restored = () => readFile(path.join(data, 'f.txt'), 'utf8');

async function startedAt(target: string, name: string, kind: Kind): Promise<string> {
  const r = await runCli(['show', name, '-t', target, '--json', ...access(kind)]);
  expect(r.exitCode, cliOutput(r)).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { metadata: { startedAt: string } }).metadata.startedAt;
}

/** Backs up `content` of `buildDir`'s cluster into `target`: the archive names, oldest first. */
async function backUp(buildDir: string, target: string, content: string, extra: string[] = []): Promise<string[]> {
  await writeFile(path.join(data, 'f.txt'), content);
  const r = await runCli(['apply', recipes, '-b', buildDir, '-t', target, '--format', 'tar.zst', '-q', ...extra], { timeoutMs: 180_000 });
  expect(r.exitCode, cliOutput(r)).toBe(0);
  return (await readdir(target)).filter((n) => parseBackupName(n)).sort();
}

beforeAll(async () => {
  ws = await workspace('lsb-renamed-');
  fleet = await startFleet({ hosts: 1 });
  build = path.join(ws.dir, 'build');
  fleet.writeInventory(build, { host1: ['app'] });
  // Another cluster, on the same host: its build dir names it.
  const other = path.join(ws.dir, 'other');
  fleet.writeInventory(other, { host1: ['app'] });
  recipes = path.join(ws.dir, 'recipes');
  data = path.join(ws.dir, 'data');
  await mkdir(data, { recursive: true });
  const spec = ['hosts: { group: app }', 'become: true', 'backup:', '  collect:', `    - path: "${data}"`, 'restore:', '  apply:', `    - files: "${data}"`];
  await ws.write('recipes/app.yaml', recipeYaml('app', spec.join('\n') + '\n'));
  identity = path.join(ws.dir, 'age-key.txt');
  await execa('age-keygen', ['-o', identity]);
  const recipient = /age1[0-9a-z]+/.exec(await readFile(identity, 'utf8'))![0];
  for (const kind of KINDS) {
    const target = path.join(ws.dir, `backups-${kind}`);
    const encrypt = kind === 'encrypted' ? ['--encrypt-to', recipient] : [];
    let names = [...(await backUp(build, target, 'first\n', encrypt)), ...(await backUp(build, target, 'second\n', encrypt))];
    // Two backups of one second carry one time (`_1` orders them): the newer is backed up again until its second is another.
    while (parseBackupName(names.at(-1)!)!.time.getTime() === parseBackupName(names[0]!)!.time.getTime())
      names = await backUp(build, target, 'second\n', encrypt);
    const [older, newer] = [names[0]!, names.at(-1)!];
    made.set(kind, { target, older, newer, olderStartedAt: await startedAt(target, older, kind), newerStartedAt: await startedAt(target, newer, kind) });
  }
  otherTarget = path.join(ws.dir, 'backups-other');
  [otherName] = await backUp(other, otherTarget, 'other cluster\n');
  otherStartedAt = await startedAt(otherTarget, otherName!, 'plain');
}, 600_000);

afterAll(async () => {
  await fleet?.stop();
  await ws?.cleanup();
});

const restore = (target: string, name: string, extra: string[]) =>
  runCli(['restore', name, '-t', target, '-b', build, '--recipes', recipes, ...extra], { timeoutMs: 180_000 });

describe.each(KINDS)('a backup stored under another backup of its cluster (%s)', (kind) => {
  let target: string;
  let older: string;
  let newer: string;
  let olderStartedAt: string;
  let newerStartedAt: string;

  beforeAll(async () => {
    const backups = made.get(kind)!;
    ({ older, newer, olderStartedAt, newerStartedAt } = backups);
    target = path.join(ws.dir, `swapped-${kind}`);
    await cp(backups.target, target, { recursive: true });
    await swapBackups(target, older, newer);
  });

  it('verify: exit 0 (it is intact), each saying which backup it was made as; show says it too', async () => {
    for (const [name, as, started] of [
      [newer, older, olderStartedAt],
      [older, newer, newerStartedAt],
    ] as const) {
      const verified = await runCli(['verify', name, '-t', target, ...access(kind)]);
      expect(verified.exitCode, cliOutput(verified)).toBe(0);
      expect(verified.stdout).toContain(
        `warning: this archive was made as ${label(as)} (started ${started}), not as its name says: restoring it by this name restores that backup's data`,
      );
      const json = await runCli(['verify', name, '-t', target, '--json', ...access(kind)]);
      const result = JSON.parse(json.stdout.trim().split('\n').at(-1)!) as { ok: boolean; problems: { kind: string; message: string }[] };
      expect(result.ok, cliOutput(json)).toBe(true);
      expect(result.problems, cliOutput(json)).toContainEqual({ kind: 'renamed', message: expect.stringContaining(`made as ${label(as)} `) });
    }
    const shown = await runCli(['show', newer, '-t', target, ...access(kind)]);
    expect(shown.stdout, cliOutput(shown)).toContain(`renamed     this archive was made as ${label(older)} (started ${olderStartedAt}), not as its name says`);
    const shownJson = await runCli(['show', newer, '-t', target, '--json', ...access(kind)]);
    expect(JSON.parse(shownJson.stdout.trim()), cliOutput(shownJson)).toMatchObject({ type: 'show.backup', name: newer, madeAs: label(older) });
    // list marks both names, and its legend says what the mark means.
    const listed = await runCli(['list', '-t', target, ...access(kind)]);
    expect(listed.exitCode, cliOutput(listed)).toBe(0);
    for (const name of [older, newer]) expect(listed.stdout).toContain(`${name} (renamed)`);
    expect(listed.stdout).toContain("(renamed): stored under another name than the run that made it (TIME and CLUSTER are that run's)");
  }, 300_000);

  it("restore --dry-run of the newer name: the plan says, before what was checked, that it restores the older backup's data; --json too", async () => {
    const words = `this archive was made as ${label(older)} (started ${olderStartedAt}): restoring that backup's data`;
    const dry = await restore(target, newer, ['--dry-run', ...access(kind)]);
    expect(dry.exitCode, cliOutput(dry)).toBe(0);
    expect(dry.stdout).toContain(`NOT the backup its name says: ${words}\nChecked: `);
    const json = await restore(target, newer, ['--dry-run', '--json', ...access(kind)]);
    expect(json.exitCode, cliOutput(json)).toBe(0);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: words }));
    expect(events.find((e) => e.type === 'restore.plan')).toMatchObject({ backup: newer, madeAs: label(older), startedAt: olderStartedAt });
  }, 300_000);

  it.each(['staged', 'stream'] as const)(
    "restore of the newer name onto the sshd host (%s): says so before any host is touched, and restores the older backup's data",
    async (mode) => {
      await writeFile(path.join(data, 'f.txt'), 'live\n');
      const r = await restore(target, newer, ['--yes', ...access(kind), ...(mode === 'stream' ? ['--stream'] : [])]);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(await restored()).toBe('first\n');
      const warning = `warning: this archive was made as ${label(older)} (started ${olderStartedAt}): restoring that backup's data`;
      expect(r.stderr).toContain(warning);
      expect(r.stderr.indexOf(warning), 'before the run starts on the hosts').toBeLessThan(r.stderr.indexOf('lsbackup restore '));
    },
    300_000,
  );
});

describe("another cluster's backup stored under a name of this cluster", () => {
  let target: string;
  const name = 'lsbackup-build-20991231T000000Z.tar.zst';
  const madeAs = () => `this archive was made as ${label(otherName)} (started ${otherStartedAt})`;

  beforeAll(async () => {
    target = path.join(ws.dir, 'renamed-other');
    await cp(made.get('plain')!.target, target, { recursive: true });
    for (const suffix of ['', '.metadata.json']) await cp(path.join(otherTarget, `${otherName}${suffix}`), path.join(target, `${name}${suffix}`));
    // Renamed as sha256sum -c would check it.
    await writeFile(path.join(target, `${name}.sha256`), (await readFile(path.join(otherTarget, `${otherName}.sha256`), 'utf8')).replaceAll(otherName, name));
  });

  it('verify: exit 0 with a warning that restore refuses it by this name', async () => {
    const verified = await runCli(['verify', name, '-t', target]);
    expect(verified.exitCode, cliOutput(verified)).toBe(0);
    expect(verified.stdout).toContain(
      `warning: ${madeAs()}, not as its name says: a backup of cluster 'other', which restore refuses by this name unless --allow-renamed-cluster is passed`,
    );
  }, 300_000);

  it('restore: refused before any host is touched, also before the archive is read (staged and --stream); --allow-renamed-cluster restores it, saying so', async () => {
    await writeFile(path.join(data, 'f.txt'), 'live\n');
    const refusal = `Restore of ${name} refused before any host was touched: ${madeAs()}, a backup of cluster 'other', not of 'build' as its name says: pass --allow-renamed-cluster to restore that backup's data`;
    for (const extra of [[], ['--stream']]) {
      const r = await restore(target, name, ['--yes', ...extra]);
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(r.stderr).toContain(refusal);
      expect(await restored()).toBe('live\n');
    }
    // Said by its metadata sidecar: an archive that no longer reads would otherwise be refused as damaged.
    const unread = path.join(ws.dir, 'renamed-other-unread');
    await cp(target, unread, { recursive: true });
    await writeFile(path.join(unread, name), Buffer.alloc((await stat(path.join(target, name))).size, 1));
    const early = await restore(unread, name, ['--yes']);
    expect(early.exitCode, cliOutput(early)).toBe(1);
    expect(early.stderr).toContain(refusal);

    const allowed = await restore(target, name, ['--yes', '--allow-renamed-cluster']);
    expect(allowed.exitCode, cliOutput(allowed)).toBe(0);
    expect(allowed.stderr).toContain(`warning: ${madeAs()}, a backup of cluster 'other' (--allow-renamed-cluster): restoring that backup's data`);
    expect(await restored()).toBe('other cluster\n');
  }, 300_000);
});
