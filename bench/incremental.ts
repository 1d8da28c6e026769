/**
 * The `incremental` group (issue 17, item 5): lsbackup `apply --incremental`, restic and borg on
 * the same data, in the same run, through the same host link — first run, unchanged rerun, 1 %
 * and 10 % of the files changed, three more 1 % steps (a chain of 7), then restores.
 *
 * Set-up (bench/backup-tools.ts): the data host is a network namespace (test/fleet/netns.ts).
 * lsbackup pulls from it over SSH to a target on the controller; restic (sftp) and borg (`borg
 * serve`) run on the host and push over SSH to repositories behind the same link. The bytes
 * column is the host's veth, both directions, for all three.
 *
 * Fairness: one copy of the data set is changed before each step (seeded, bench/change-files.ts)
 * and then backed up by the three tools in turn, so all three store the same states. The copy
 * was just written and fits in RAM: every tool reads from the page cache. Each repetition starts
 * from a fresh copy, an empty target, fresh repositories and empty caches.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsUnavailable, startNetnsFleet } from '../test/fleet/netns.js';
import { startRepositoryHost, toolVersion, type RepositoryHost } from './backup-tools.js';
import { changeFiles, storedBytes, type Change } from './change-files.js';
import { totalBytes, type DataSpec } from './data.js';
import { measure, median, type Measurement, type Row } from './measure.js';
import { BULK_RECIPE } from './recipes.js';

export interface IncrementalContext {
  /** The bench's work dir (controller side: target, staging, caches). */
  work: string;
  /** The data set to copy and change (never changed itself). */
  dataDir: string;
  spec: DataSpec;
  /** Repetitions of the whole sequence (fresh copy and repositories each). */
  runs: number;
  /** The built CLI (dist/cli/lsbackup.js). */
  cli: string;
  rows: Row[];
  log(message: string): void;
}

export interface IncrementalReport {
  markdown: string[];
  json: object;
}

const GROUP = 'incremental';
const TOOLS = ['lsbackup', 'restic', 'borg'] as const;

/** The backups of one sequence: fraction of files changed before it (0: none). */
const STEPS = [
  { name: 'first run', fraction: 0 },
  { name: 'unchanged rerun', fraction: 0 },
  { name: '1 % changed', fraction: 0.01 },
  { name: '10 % changed', fraction: 0.1 },
  { name: '1 % changed (5th)', fraction: 0.01 },
  { name: '1 % changed (6th)', fraction: 0.01 },
  { name: '1 % changed (7th)', fraction: 0.01 },
];
const FULL_OF_LAST = 'lsbackup --full of the 7th state';
const RESTORES = {
  chain: 'lsbackup restore of the 7th (full + 6 incrementals)',
  full: 'lsbackup restore of the full',
  restic: 'restic restore of the 7th',
  borg: 'borg extract of the 7th',
};

/** Per row: bytes the target/repository grew by, and bytes on the host's link, per run. */
interface Extra {
  stored: number[];
  wire: number[];
}

export async function incremental(ctx: IncrementalContext): Promise<IncrementalReport> {
  // Missing tools fail the bench (naming the package); the namespace check mirrors the `remote` group.
  const versions = { restic: toolVersion('restic'), borg: toolVersion('borg') };
  const unavailable = netnsUnavailable();
  if (unavailable) {
    ctx.log(`incremental: SKIPPED, network namespaces are not available: ${unavailable}`);
    return { markdown: [`incremental: SKIPPED, network namespaces are not available: ${unavailable}`], json: { skipped: unavailable } };
  }
  const extras = new Map<string, Extra>();
  const changes = new Map<string, Change>();
  const link = await startNetnsFleet({ hosts: 1 });
  const repoRoot = `${ctx.dataDir}-incremental-repos-${process.pid}`;
  const tree = `${ctx.dataDir}-incremental-${process.pid}`;
  const expected = `${tree}-expected`;
  let repo: RepositoryHost | undefined;
  try {
    repo = await startRepositoryHost(link, repoRoot, ctx.work);
    const inventory = link.writeInventory(join(ctx.work, 'inv-incremental'), { host1: ['bulk'] });
    const recipe = join(ctx.work, 'incremental-bulk.yaml');
    writeFileSync(recipe, BULK_RECIPE);
    const target = join(ctx.work, 'incremental-target');
    const staging = join(ctx.work, 'incremental-staging');
    const lsbackup = (...rest: string[]) => ['node', ctx.cli, ...rest, '--json', '--var', `bulk.data_dir=${tree}`];
    const apply = (mode: string) => lsbackup('apply', recipe, '-b', inventory, '-t', target, '-f', 'tar.zst', '--cluster', 'bench', mode);
    const restore = (archive: string) => lsbackup('restore', archive, '-b', inventory, '-y', '--staging-dir', staging, '--recipes', recipe);
    const onLink = () => link.sentBytes(0) + link.receivedBytes(0);
    const r = repo;

    /** Measures one command; stored = growth of `storedIn`. A failure is recorded (it fails the bench at the end), not thrown. */
    const run = async (name: string, argv: string[], storedIn: string | undefined, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => {
      const storedBefore = storedIn ? storedBytes(storedIn) : 0;
      const wireBefore = onLink();
      const m = await measure(argv, { cwd: options.cwd ?? ctx.work, scratch: ctx.work, env: options.env });
      const extra = { stored: storedIn ? storedBytes(storedIn) - storedBefore : 0, wire: onLink() - wireBefore };
      record(ctx, extras, name, argv, m, extra);
      return m;
    };

    for (let rep = 0; rep < ctx.runs; rep++) {
      for (const dir of [tree, expected, target, staging, repoRoot, r.env.RESTIC_CACHE_DIR!, r.env.BORG_BASE_DIR!])
        rmSync(dir, { recursive: true, force: true });
      execFileSync('cp', ['-a', ctx.dataDir, tree]);
      r.init();
      mkdirSync(target, { recursive: true });
      const archives: string[] = [];
      for (const [i, step] of STEPS.entries()) {
        if (step.fraction)
          changes.set(
            step.name,
            changeFiles(tree, step.fraction, i, (rel) => rel === '.bench-spec.json'),
          );
        const before = new Set(readdirSync(target));
        await run(`lsbackup ${step.name}`, apply('--incremental'), target);
        archives.push(newArchive(target, before));
        await run(`restic ${step.name}`, r.restic('backup', '--compression', 'auto', '-q', tree), r.resticDir, { env: r.env });
        await run(`borg ${step.name}`, r.borg('create', '-C', 'zstd,3', `${r.borgRepo}::step${i + 1}`, tree), r.borgDir, { env: r.env });
      }
      checkChain(archives);
      const before = new Set(readdirSync(target));
      await run(FULL_OF_LAST, apply('--full'), target);
      const full = newArchive(target, before);

      // Restores put the 7th state back; each result is compared with it (outside the measurement).
      renameSync(tree, expected);
      for (const [name, archive] of [
        [RESTORES.chain, archives.at(-1)!],
        [RESTORES.full, full],
      ] as const) {
        mkdirSync(staging, { recursive: true });
        if ((await run(name, restore(archive), undefined)).exitCode === 0) sameTree(name, expected, tree);
        rmSync(tree, { recursive: true, force: true });
        rmSync(staging, { recursive: true, force: true });
      }
      const into = join(repoRoot, 'restored');
      mkdirSync(into, { recursive: true });
      if ((await run(RESTORES.restic, r.restic('restore', 'latest', '--target', into), undefined, { env: r.env })).exitCode === 0) {
        sameTree(RESTORES.restic, expected, join(into, tree));
      }
      rmSync(into, { recursive: true, force: true });
      mkdirSync(into, { recursive: true });
      if ((await run(RESTORES.borg, r.borg('extract', `${r.borgRepo}::step${STEPS.length}`), undefined, { env: r.env, cwd: into })).exitCode === 0) {
        sameTree(RESTORES.borg, expected, join(into, tree));
      }
      rmSync(into, { recursive: true, force: true });
      ctx.log(`incremental: repetition ${rep + 1} of ${ctx.runs} done`);
    }
  } finally {
    await repo?.stop();
    await link.teardown();
    for (const dir of [tree, expected, repoRoot]) rmSync(dir, { recursive: true, force: true });
  }
  return report(ctx, extras, changes, versions);
}

/** The archive `apply` just wrote into target (the one .tar.zst not there before). */
function newArchive(target: string, before: Set<string>): string {
  const added = readdirSync(target).filter((f) => f.endsWith('.tar.zst') && !before.has(f));
  if (added.length !== 1) throw new Error(`incremental: expected one new archive in ${target}, found ${added.length}: ${added.join(', ')}`);
  return join(target, added[0]!);
}

/** The figures are labelled "a chain of 7": the first backup a full, each later one an incremental. */
function checkChain(archives: string[]): void {
  archives.forEach((archive, i) => {
    const kind = (JSON.parse(readFileSync(`${archive}.metadata.json`, 'utf8')) as { kind?: string }).kind ?? 'full';
    if (kind !== (i === 0 ? 'full' : 'incremental')) throw new Error(`incremental: backup ${i + 1} of the chain (${archive}) is ${kind}`);
  });
}

/** A restore that does not give back the tree it backed up is a failure of the bench, not a figure. */
function sameTree(name: string, expected: string, got: string): void {
  try {
    execFileSync('diff', ['-r', '--no-dereference', '-q', expected, got], { stdio: 'pipe' });
  } catch (e) {
    const out = String((e as { stdout?: Buffer }).stdout ?? '') + String((e as { stderr?: Buffer }).stderr ?? '');
    throw new Error(`incremental: ${name} did not restore the backed-up tree: ${out.slice(0, 2000)}`);
  }
}

function record(ctx: IncrementalContext, extras: Map<string, Extra>, name: string, argv: string[], m: Measurement, extra: { stored: number; wire: number }) {
  let row = ctx.rows.find((x) => x.group === GROUP && x.name === name);
  if (!row) {
    row = { group: GROUP, name, command: argv.join(' '), bytes: totalBytes(ctx.spec), runs: [] };
    ctx.rows.push(row);
    extras.set(name, { stored: [], wire: [] });
  }
  row.runs.push(m);
  extras.get(name)!.stored.push(extra.stored);
  extras.get(name)!.wire.push(extra.wire);
  ctx.log(`${name}: ${m.wallS.toFixed(2)} s wall, ${m.cpuS.toFixed(1)} s CPU, stored ${mb(extra.stored)} MB, link ${mb(extra.wire)} MB, exit ${m.exitCode}`);
  if (m.exitCode !== 0) ctx.log(m.stderrTail);
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 3 : 1);

function report(ctx: IncrementalContext, extras: Map<string, Extra>, changes: Map<string, Change>, versions: Record<string, string>): IncrementalReport {
  const rows = ctx.rows.filter((r) => r.group === GROUP);
  const figure = (name: string) => {
    const row = rows.find((r) => r.name === name);
    if (!row) return undefined;
    const ok = row.runs.filter((m) => m.exitCode === 0);
    const use = ok.length ? ok : row.runs;
    const extra = extras.get(name)!;
    return {
      wall: median(use.map((m) => m.wallS)),
      cpu: median(use.map((m) => m.cpuS)),
      stored: median(extra.stored),
      wire: median(extra.wire),
      n: use.length,
    };
  };
  const lines = [
    '',
    `### incremental: lsbackup --incremental vs ${versions.restic.split(' compiled')[0]} vs ${versions.borg}`,
    '',
    `Data: a copy of the ${(totalBytes(ctx.spec) / 1e6).toFixed(0)} MB set, changed in place before each step (the same changes for all three tools):`,
    ...[...changes].map(
      ([step, c]) =>
        `- ${step}: ${c.files} file(s), ${mb(c.bytes)} MB in them (the first half of the picks: 1 KiB appended; the others: their first 4 KiB rewritten)`,
    ),
    '',
    'lsbackup pulls over SSH from the host (network namespace) into a target on the controller (tar.zst, zstd -3); restic (sftp, repository v2, `--compression auto` = zstd default level) ' +
      'and borg (`borg serve`, `-e none`, `-C zstd,3`) run on the host and push over SSH across the same link. ' +
      "stored = growth of the target / repository; link = bytes on the host link, both directions. CPU is the measured command's process tree; the far side (the host's find/tar for lsbackup, sftp-server or `borg serve`) is not in it.",
    '',
    '| step | tool | wall s | CPU s | stored MB | link MB | n |',
    '|---|---|---|---|---|---|---|',
  ];
  const row = (label: string, tool: string, name: string) => {
    const f = figure(name);
    if (f) lines.push(`| ${label} | ${tool} | ${f.wall.toFixed(2)} | ${f.cpu.toFixed(1)} | ${f.stored ? mb(f.stored) : '–'} | ${mb(f.wire)} | ${f.n} |`);
  };
  for (const step of STEPS) for (const tool of TOOLS) row(step.name, tool, `${tool} ${step.name}`);
  row('full of the 7th state', 'lsbackup', FULL_OF_LAST);
  row('restore of the 7th', 'lsbackup', RESTORES.chain);
  row('restore of a full', 'lsbackup', RESTORES.full);
  row('restore of the 7th', 'restic', RESTORES.restic);
  row('restore of the 7th', 'borg', RESTORES.borg);

  const goals: { label: string; value: string; goal: string; met: boolean }[] = [];
  const full = figure('lsbackup first run');
  const goal = (label: string, a: number | undefined, b: number | undefined, limit: number, percent: boolean, strict = false) => {
    if (a === undefined || b === undefined || !b) return;
    const ratio = a / b;
    goals.push({
      label,
      value: percent ? `${(ratio * 100).toFixed(2)} %` : `${ratio.toFixed(2)}×`,
      goal: `${strict ? '<' : '≤'} ${percent ? `${limit * 100} %` : `${limit}×`}`,
      met: strict ? ratio < limit : ratio <= limit,
    });
  };
  const wall = (name: string) => figure(name)?.wall;
  const stored = (name: string) => figure(name)?.stored;
  goal('unchanged rerun: lsbackup wall / restic wall', wall('lsbackup unchanged rerun'), wall('restic unchanged rerun'), 1.5, false);
  goal('unchanged rerun: lsbackup stored / its full', stored('lsbackup unchanged rerun'), full?.stored, 0.01, true, true);
  goal('1 % changed: lsbackup stored / its full', stored('lsbackup 1 % changed'), full?.stored, 0.02, true);
  goal('1 % changed: lsbackup wall / restic wall', wall('lsbackup 1 % changed'), wall('restic 1 % changed'), 1, false);
  goal('restore of the 7th / restore of a full (lsbackup wall)', wall(RESTORES.chain), wall(RESTORES.full), 1.3, false);
  lines.push('', '| goal (issue 17) | this run | goal | status |', '|---|---|---|---|');
  for (const g of goals) lines.push(`| ${g.label} | ${g.value} | ${g.goal} | ${g.met ? 'met' : 'missed'} |`);
  return {
    markdown: lines,
    json: {
      versions,
      changes: Object.fromEntries(changes),
      figures: Object.fromEntries(rows.map((r) => [r.name, { ...figure(r.name), stored: extras.get(r.name)!.stored, wire: extras.get(r.name)!.wire }])),
      goals,
    },
  };
}
