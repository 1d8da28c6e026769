/**
 * Retention and `latest` per cluster and job, ordered by the time in the metadata (issue 12
 * item 2, issue 19 item 6), and the bounded metadata reads of `list` (issue 19 item 4). Real
 * archives made by the built CLI into local target directories.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, succeeded, workspace, jsonEvent, jsonEvents } from '../helpers/cli.js';
import { listBackups, METADATA_READS } from '../../engine/catalog/listing.js';
import { openTarget } from '../../targets/registry.js';
import type { Target } from '../../targets/types.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let recipes: string;

beforeAll(async () => {
  ws = await workspace('lsb-groups-');
  recipes = path.join(ws.dir, 'recipes');
  // Two clusters: the cluster is the build directory's name.
  for (const cluster of ['alpha', 'beta']) await ws.write(`build/${cluster}/inventory`, '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo dump\n      output: dump.txt\n`));
});
afterAll(async () => ws.cleanup());

/** One real backup of `cluster` into `target` (with `from` the recipes: these, or others that fail one component, exit 2); returns the archive name. */
async function backup(cluster: string, target: string, from = recipes, exitCode = 0): Promise<string> {
  const r = await runCli(['apply', from, '-b', path.join(ws.dir, 'build', cluster), '-t', target, '--json']);
  expect(r.exitCode, cliOutput(r)).toBe(exitCode);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((e) => e.type === 'archive.stored').name as string;
}

/** Store an archive (with its sidecars) under another name, as an operator's `cp` would. */
async function copyAs(target: string, from: string, to: string): Promise<void> {
  for (const suffix of ['', '.sha256', '.metadata.json']) await copyFile(path.join(target, from + suffix), path.join(target, to + suffix));
}

const archives = async (target: string) => (await readdir(target)).filter((n) => /\.tar\.gz$/.test(n)).sort();

describe('two clusters in one target', () => {
  let target: string;
  let alpha: string;
  let beta: string;
  beforeAll(async () => {
    target = path.join(ws.dir, 't-two');
    alpha = await backup('alpha', target);
    beta = await backup('beta', target); // newer
  });

  it("prune --keep-last 1 keeps each cluster's newest backup (never deletes the other cluster's only one)", async () => {
    const r = await runCli(['prune', '-t', target, '--keep-last', '1', '--json']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(jsonEvent(r.stdout, 'prune.result').remove).toEqual([]);
    expect(await archives(target)).toEqual([alpha, beta].sort());
  });

  it("`restore latest -b <alpha's build>` picks alpha's backup, not beta's newer one", async () => {
    const r = await runCli(['restore', 'latest', '-t', target, '-b', path.join(ws.dir, 'build', 'alpha'), '--dry-run']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout + r.stderr).toContain(alpha);
    expect(r.stdout + r.stderr).not.toContain(beta);
  });

  it('`latest` with no cluster known is a usage error naming the clusters; --cluster chooses one', async () => {
    const ambiguous = await runCli(['verify', 'latest', '-t', target]);
    expect(ambiguous.exitCode, cliOutput(ambiguous)).toBe(64);
    expect(ambiguous.stderr).toContain('holds backups of 2 clusters (alpha, beta)');
    const chosen = await runCli(['verify', 'latest', '-t', target, '--cluster', 'alpha']);
    expect(chosen.exitCode, cliOutput(chosen)).toBe(0);
    expect(chosen.stdout).toContain(`${alpha}: OK`);
    const unknown = await runCli(['verify', 'latest', '-t', target, '--cluster', 'gamma']);
    expect(unknown.exitCode, cliOutput(unknown)).toBe(1);
    expect(unknown.stderr).toContain('holds no backup of cluster gamma (it holds: alpha, beta)');
    const listed = jsonEvents<{ name: string; cluster: string }>((await runCli(['list', '-t', target, '--cluster', 'beta', '--json'])).stdout, 'list.backup');
    expect(listed).toEqual([expect.objectContaining({ name: beta, cluster: 'beta' })]);
  });
});

describe('two clusters whose archive names read the same (eu_west and eu-west)', () => {
  // Names carry the cluster sanitised: both clusters' archives are lsbackup-eu-west-<time>.tar.gz.
  let target: string;
  let west: string[];
  let dashed: string;
  beforeAll(async () => {
    for (const cluster of ['eu_west', 'eu-west']) await ws.write(`build/${cluster}/inventory`, '[app]\nlocalhost ansible_connection=local\n');
    target = path.join(ws.dir, 't-alike');
    west = [await backup('eu_west', target), await backup('eu_west', target)];
    dashed = await backup('eu-west', target); // the newest
  }, 120_000);

  it("prune keeps each cluster's own: --keep-last 1 deletes only eu_west's older backup, --cluster eu-west deletes none of eu_west's", async () => {
    const all = await runCli(['prune', '-t', target, '--keep-last', '1', '--dry-run', '--json']);
    expect(all.exitCode, cliOutput(all)).toBe(0);
    const plan = jsonEvent<{ keep: { name: string; group: string }[]; remove: string[] }>(all.stdout, 'prune.result');
    expect(plan.remove).toEqual([west[0]]);
    expect(plan.keep.map((k) => [k.group, k.name]).sort()).toEqual([
      ['eu-west/-', dashed],
      ['eu_west/-', west[1]],
    ]);
    const scoped = await runCli(['prune', '-t', target, '--cluster', 'eu-west', '--keep-last', '1', '--dry-run', '--json']);
    expect(jsonEvent(scoped.stdout, 'prune.result')).toMatchObject({ keep: [{ name: dashed }], remove: [] });
  });

  it('list tells them apart: the cluster each backup records, in the table and as recordedCluster in --json', async () => {
    const table = succeeded(await runCli(['list', '-t', target]));
    for (const [name, cluster] of [...west.map((n) => [n, 'eu_west']), [dashed, 'eu-west']]) {
      expect(table.stdout).toMatch(new RegExp(`^${name!.replaceAll('.', '\\.')}\\s.*\\sapp\\s+${cluster}\\s+-\\s+full\\s+-$`, 'm'));
    }
    const rows = jsonEvents<{ name: string; cluster: string; recordedCluster: string }>(
      succeeded(await runCli(['list', '-t', target, '--json'])).stdout,
      'list.backup',
    );
    expect(rows.map((b) => [b.name, b.cluster, b.recordedCluster])).toEqual([
      [dashed, 'eu-west', 'eu-west'],
      [west[1], 'eu-west', 'eu_west'],
      [west[0], 'eu-west', 'eu_west'],
    ]);
  });

  it("`restore latest -b <eu_west's build>` picks eu_west's newest, not eu-west's newer one; with no cluster known `latest` is ambiguous", async () => {
    const r = await runCli(['restore', 'latest', '-t', target, '-b', path.join(ws.dir, 'build', 'eu_west'), '--dry-run']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toContain(`Restore of ${west[1]} (cluster 'eu_west'`);
    const ambiguous = await runCli(['verify', 'latest', '-t', target]);
    expect(ambiguous.exitCode, cliOutput(ambiguous)).toBe(64);
    expect(ambiguous.stderr).toContain('holds backups of 2 clusters (eu-west, eu_west)');
  });

  it("an --incremental of eu_west is based on eu_west's newest backup, not on eu-west's", async () => {
    const r = succeeded(await runCli(['apply', recipes, '-b', path.join(ws.dir, 'build', 'eu_west'), '-t', target, '--incremental', '--json']));
    const name = jsonEvent<{ name: string }>(r.stdout, 'archive.stored').name;
    const rows = jsonEvents<{ name: string; base?: string }>((await runCli(['list', '-t', target, '--cluster', 'eu_west', '--json'])).stdout, 'list.backup');
    expect(rows.map((b) => [b.name, b.base])).toEqual([
      [name, west[1]],
      [west[1], undefined],
      [west[0], undefined],
    ]);
  });
});

describe('a copy renamed to a later time', () => {
  let target: string;
  let first: string;
  let second: string;
  const renamed = 'lsbackup-alpha-20991231T000000Z.tar.gz';
  beforeAll(async () => {
    target = path.join(ws.dir, 't-renamed');
    first = await backup('alpha', target);
    second = await backup('alpha', target);
    await copyAs(target, first, renamed);
  });

  it('is not the newest: `latest` is the newest by the start time in the metadata', async () => {
    const r = await runCli(['verify', 'latest', '-t', target]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toContain(`${second}: OK`);
    const rows = jsonEvents<{ name: string; startedAt: string; renamed: boolean }>((await runCli(['list', '-t', target, '--json'])).stdout, 'list.backup');
    expect(rows.map((b) => b.name)).toEqual([second, first, renamed]);
    expect(rows[2]).toMatchObject({ renamed: true, startedAt: rows[1]!.startedAt }); // as old as the run that made it
  });

  it('makes prune delete no real backup: --keep-last 2 keeps the two real ones and drops the copy', async () => {
    const r = await runCli(['prune', '-t', target, '--keep-last', '2', '--json']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(jsonEvent(r.stdout, 'prune.result').remove).toEqual([renamed]);
    expect(await archives(target)).toEqual([first, second].sort());
  });
});

describe('metadata that cannot be read', () => {
  it('prune keeps the backup and says why; latest skips it with a warning', async () => {
    const target = path.join(ws.dir, 't-unread');
    const real = await backup('alpha', target);
    const orphan = 'lsbackup-alpha-20991231T000000Z.tar.gz';
    await copyFile(path.join(target, real), path.join(target, orphan)); // no sidecars at all
    const r = await runCli(['prune', '-t', target, '--keep-last', '1']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`alpha/\\?\\s+keep\\s+${orphan.replaceAll('.', '\\.')}\\s+kept: no metadata sidecar`));
    expect(await archives(target)).toEqual([real, orphan].sort());
    const latest = await runCli(['verify', 'latest', '-t', target]);
    expect(latest.stdout).toContain(`${real}: OK`);
    expect(latest.stderr).toContain(`'latest' skipped 1 backup(s) of cluster alpha whose metadata could not be read: ${orphan} (no metadata sidecar)`);
  });
});

describe('list reads metadata sidecars with bounded concurrency', () => {
  it(`never has more than ${METADATA_READS} sidecar reads in flight, however many backups`, async () => {
    const source = path.join(ws.dir, 't-source');
    const one = await backup('alpha', source);
    const target = path.join(ws.dir, 't-many');
    await mkdir(target);
    const count = METADATA_READS * 4;
    for (let i = 0; i < count; i++) {
      const name = `lsbackup-alpha-20250101T00${String(Math.floor(i / 60)).padStart(2, '0')}${String(i % 60).padStart(2, '0')}Z.tar.gz`;
      await copyFile(path.join(source, one), path.join(target, name));
      await copyFile(path.join(source, `${one}.metadata.json`), path.join(target, `${name}.metadata.json`));
    }
    // The real local target, counting the object reads that are open (get() until its stream closes).
    const real = await openTarget(target);
    let open = 0;
    let most = 0;
    const countingGet = async (name: string) => {
      open++;
      most = Math.max(most, open);
      const stream = await real.get(name);
      stream.once('close', () => open--);
      return stream;
    };
    const counting = new Proxy(real, {
      get: (t, key) => (key === 'get' ? countingGet : typeof Reflect.get(t, key) === 'function' ? Reflect.get(t, key).bind(t) : Reflect.get(t, key)),
    }) as Target;
    const backups = await listBackups(counting);
    expect(backups).toHaveLength(count);
    expect(backups.every((b) => b.status === 'success')).toBe(true);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(METADATA_READS);
  });
});

describe('retention per job', () => {
  it("a job's policy prunes only its own backups: databases {keepLast: 2} never deletes nightly's or apply's", async () => {
    await ws.write(
      'jobs/lsbackup.config.yaml',
      `apiVersion: lsbackup/v1
kind: Config
cluster: alpha
build: ../build/alpha
recipes: [../recipes]
targets: [./backups]
jobs:
  nightly:
    retention: { keepDaily: 7, keepWeekly: 4 }
  databases:
    retention: { keepLast: 2 }
`,
    );
    const dir = path.join(ws.dir, 'jobs');
    const run = async (job: string) => succeeded(await runCli(['run', '--job', job], { cwd: dir }), `run --job ${job}`);

    const manual = await backup('alpha', path.join(dir, 'backups')); // made by apply: no job
    await run('nightly');
    const [nightly] = (await archives(path.join(dir, 'backups'))).filter((n) => n !== manual);
    const metadata = JSON.parse(await readFile(path.join(dir, 'backups', `${nightly}.metadata.json`), 'utf8'));
    expect(metadata).toMatchObject({ cluster: 'alpha', job: 'nightly' });

    const databases: string[] = [];
    for (let i = 0; i < 3; i++) {
      await run('databases');
      databases.push((await archives(path.join(dir, 'backups'))).find((n) => ![manual, nightly, ...databases].includes(n))!);
    }
    // The databases job deleted its own oldest backup and nothing else.
    expect(await archives(path.join(dir, 'backups'))).toEqual([manual, nightly!, databases[1]!, databases[2]!].sort());
    expect(existsSync(path.join(dir, 'backups', `${databases[0]}.metadata.json`))).toBe(false);

    // The CLI chooses the group: --job, --no-job; by default each cluster/job group on its own.
    const dry = await runCli(['prune', '-t', path.join(dir, 'backups'), '--keep-last', '1', '--dry-run', '--json']);
    const plan = jsonEvent<{ keep: { name: string; group: string }[]; remove: string[] }>(dry.stdout, 'prune.result');
    expect(plan.remove).toEqual([databases[1]]);
    expect(plan.keep.map((k) => k.group).sort()).toEqual(['alpha/-', 'alpha/databases', 'alpha/nightly']);
    const onlyNoJob = jsonEvent(
      (await runCli(['prune', '-t', path.join(dir, 'backups'), '--no-job', '--keep-last', '1', '--dry-run', '--json'])).stdout,
      'prune.result',
    );
    expect(onlyNoJob).toMatchObject({ keep: [{ name: manual, group: 'alpha/-' }], remove: [] });
    const onlyNightly = jsonEvent(
      (await runCli(['prune', '-t', path.join(dir, 'backups'), '--job', 'nightly', '--keep-last', '1', '--dry-run', '--json'])).stdout,
      'prune.result',
    );
    expect(onlyNightly).toMatchObject({ keep: [{ name: nightly, group: 'alpha/nightly' }], remove: [] });

    // A name no backup there records is a typo, not an empty group: said with the names, exit 64.
    const target = path.join(dir, 'backups');
    const typoJob = await runCli(['prune', '-t', target, '--job', 'nightlly', '--keep-last', '1']);
    expect(typoJob.exitCode, cliOutput(typoJob)).toBe(64);
    expect(typoJob.stderr).toContain(
      `--job names 'nightlly', which no backup in ${target} records (did you mean 'nightly'?); the jobs there: databases, nightly`,
    );
    const typoCluster = await runCli(['prune', '-t', target, '--cluster', 'alpah', '--keep-last', '1']);
    expect(typoCluster.exitCode, cliOutput(typoCluster)).toBe(64);
    expect(typoCluster.stderr).toContain(`--cluster names 'alpah', which no backup in ${target} records (did you mean 'alpha'?); the clusters there: alpha`);
    const both = await runCli(['prune', '-t', target, '--job', 'nightly', '--no-job', '--keep-last', '1']);
    expect(both.exitCode, cliOutput(both)).toBe(64);
    expect(both.stderr).toContain('--job and --no-job cannot be given together');
    expect(await archives(target)).toEqual([manual, nightly!, databases[1]!, databases[2]!].sort());

    // `config validate` warns that the two policies cover one target and cluster, and are kept apart.
    const validate = await runCli(['config', 'validate'], { cwd: dir });
    expect(validate.exitCode, cliOutput(validate)).toBe(0);
    expect(validate.stderr).toContain("warning: jobs 'nightly' and 'databases' both set retention for cluster alpha in target");
    expect(validate.stderr).toContain('each policy now applies only to the backups its own job made');
  }, 300_000); // five backups and eight CLI runs on a loaded machine
});

describe('a period with a successful and a later partial backup', () => {
  it("prune's daily rule keeps the day's successful backup, not the later partial one (a partial only for a day without a success)", async () => {
    const target = path.join(ws.dir, 't-partial');
    const good = await backup('alpha', target);
    // A real partial backup: a second component whose snapshot fails.
    await ws.write('recipes-partial/app.yaml', await readFile(path.join(recipes, 'app.yaml'), 'utf8'));
    await ws.write(
      'recipes-partial/broken.yaml',
      recipeYaml('broken', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: exit 3\n      output: none.txt\n`),
    );
    const partial = await backup('alpha', target, path.join(ws.dir, 'recipes-partial'), 2);
    // Stored as the tester's target held them: Dec 5 a success at 02:00 and a partial at 03:00, Dec 6 a success, Dec 4 a partial only.
    const held = {
      '20261206T020000Z': good,
      '20261205T030000Z': partial,
      '20261205T020000Z': good,
      '20261204T020000Z': partial,
    };
    for (const [time, from] of Object.entries(held)) await storeAt(target, from, time);
    for (const name of [good, partial]) for (const suffix of ['', '.sha256', '.metadata.json']) await rm(path.join(target, name + suffix));

    const dry = await runCli(['prune', '-t', target, '--keep-daily', '7', '--dry-run', '--json']);
    expect(dry.exitCode, cliOutput(dry)).toBe(0);
    const plan = jsonEvent<{ keep: { name: string; reasons: string[] }[]; remove: string[] }>(dry.stdout, 'prune.result');
    expect(Object.fromEntries(plan.keep.map((k) => [k.name, k.reasons]))).toEqual({
      'lsbackup-alpha-20261206T020000Z.tar.gz': ['daily #1 (2026-12-06)', 'newest successful backup'],
      'lsbackup-alpha-20261205T020000Z.tar.gz': ['daily #2 (2026-12-05)'],
      'lsbackup-alpha-20261204T020000Z.tar.gz': ['daily #3 (2026-12-04)'],
    });
    expect(plan.remove).toEqual(['lsbackup-alpha-20261205T030000Z.tar.gz']);
  });
});

/** A copy of backup `from` (archive and sidecars) as the backup its cluster made at `time` (its name and its metadata's times). */
async function storeAt(target: string, from: string, time: string): Promise<void> {
  const name = `lsbackup-alpha-${time}.tar.gz`;
  const iso = time.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6.000Z');
  await copyFile(path.join(target, from), path.join(target, name));
  await copyFile(path.join(target, `${from}.sha256`), path.join(target, `${name}.sha256`));
  const metadata = JSON.parse(await readFile(path.join(target, `${from}.metadata.json`), 'utf8'));
  await writeFile(path.join(target, `${name}.metadata.json`), JSON.stringify({ ...metadata, startedAt: iso, finishedAt: iso }));
}

describe('a cluster name too long for the names a backup takes', () => {
  it('is refused before anything runs (was: the hosts backed up, then ENAMETOOLONG at storing); 160 characters store in every format', async () => {
    const marker = path.join(ws.dir, 'long-ran');
    await ws.write(
      'long-recipes/app.yaml',
      recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${marker} && echo dump\n      output: dump.txt\n`),
    );
    // The default cluster is the build directory's name.
    const long = 'x'.repeat(190);
    await ws.write(`build/${long}/inventory`, '[app]\nlocalhost ansible_connection=local\n');
    const target = path.join(ws.dir, 't-long');
    const refused = await runCli(['apply', path.join(ws.dir, 'long-recipes'), '-b', path.join(ws.dir, 'build', long), '-t', target]);
    expect(refused.exitCode, cliOutput(refused)).toBe(64);
    expect(refused.stderr).toContain(`is 190 characters in backup names (lsbackup-<cluster>-<time>.tar.gz), more than the 160 that fit one file name`);
    expect(refused.stderr).toContain('give a shorter one with --cluster <name>');
    expect(existsSync(marker)).toBe(false);

    const longest = 'y'.repeat(160);
    const recipient = (await execa('age-keygen', [])).stdout.match(/age1[0-9a-z]+/)![0];
    const stored = await runCli([
      'apply',
      recipes,
      '-b',
      path.join(ws.dir, 'build', 'alpha'),
      '-t',
      target,
      '--cluster',
      longest,
      '--format',
      'tar.zst',
      '--encrypt-to',
      recipient,
    ]);
    expect(stored.exitCode, cliOutput(stored)).toBe(0);
    expect((await readdir(target)).filter((n) => n.endsWith('.tar.zst.age'))).toEqual([
      expect.stringMatching(new RegExp(`^lsbackup-${longest}-\\d{8}T\\d{6}Z\\.tar\\.zst\\.age$`)),
    ]);

    await ws.write('long.config.yaml', `apiVersion: lsbackup/v1\nkind: Config\ncluster: ${'z'.repeat(161)}\n`);
    const config = await runCli(['config', 'validate', '--config', path.join(ws.dir, 'long.config.yaml')]);
    expect(config.exitCode, cliOutput(config)).toBe(78);
    expect(config.stderr).toMatch(/long\.config\.yaml:3:\d+: .*160/);
  });
});

describe('a cluster named with a terminal escape sequence (metadata anyone who writes the target can craft)', () => {
  it('show and prune print it written out (\\x1b), never acted on by the terminal', async () => {
    const target = path.join(ws.dir, 't-escape');
    succeeded(await runCli(['apply', recipes, '-b', path.join(ws.dir, 'build', 'alpha'), '-t', target, '--cluster', 'evil\x1b[2J\x1b]0;owned\x07']));
    const show = succeeded(await runCli(['show', 'latest', '-t', target]));
    const prune = succeeded(await runCli(['prune', '-t', target, '--keep-last', '1', '--dry-run']));
    expect(show.stdout).toContain('cluster     evil\\x1b[2J\\x1b]0;owned\\x07\n');
    expect(prune.stdout).toMatch(/^evil\\x1b\[2J\\x1b\]0;owned\\x07\/-\s+keep\s/m);
    for (const r of [show, prune]) expect([...r.stdout].filter((c) => c === '\x1b' || c === '\x07')).toEqual([]);
  });
});
