/**
 * The benchmark suite (run by bench/run.mjs through vite-node, so it can start the TypeScript
 * sshd fleet from test/fleet). Every lsbackup figure is measured in the same run as its
 * baseline; results go to bench/out/results.{json,md}. `--quick` runs each benchmark once on
 * tiny data and only checks that everything works (CI).
 */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureTestUsers, SUDO_USER, startFleet, type Fleet, type FleetHost } from '../test/fleet/fleet.js';
import { netnsUnavailable, startNetnsFleet } from '../test/fleet/netns.js';
import { ensureDataSet, mixedSpec, totalBytes, MiB, type DataSpec } from './data.js';
import { measure, median, loadAverage, type Contender, type Row } from './measure.js';
import { BULK_RECIPE, CLUSTER_RECIPE, TRIVIAL_RECIPE, clusterPlaybook } from './recipes.js';
import { sampleStagingUse } from './staging-peak.js';
import { incremental, type IncrementalReport } from './incremental.js';
import { localHost, LOCAL_NAMES, LOCAL_SPEC } from './local.js';
import { catalog } from './catalog.js';
import { hostsCpuGroup } from './host-cpu.js';

const repo = resolve(import.meta.dirname, '..');
const cli = join(repo, 'dist/cli/lsbackup.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runs = quick ? 1 : Number(argValue('--runs') ?? 3);
const only = argValue('--only')?.split(',');

function argValue(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const sizes = quick
  ? { bulk: tinySpec(), big: tinySpec(2), host: { ...tinySpec(), randoms: 0, logs: 0 }, hostsSmall: 3, hostsLarge: 4, hostsMany: 5 }
  : { bulk: mixedSpec(1), big: mixedSpec(4.6), host: hostSpec(), hostsSmall: 8, hostsLarge: 32, hostsMany: 50 };

function tinySpec(scale = 1): DataSpec {
  return { configs: 50, configBytes: 1024, logs: 2, logBytes: 256 * 1024 * scale, dumpBytes: MiB * scale, randoms: 1, randomBytes: 256 * 1024 };
}

/** Per cluster host: 500 configs and a 16 MiB dump. */
function hostSpec(): DataSpec {
  return { configs: 500, configBytes: 2048, logs: 0, logBytes: 0, dumpBytes: 16 * MiB, randoms: 0, randomBytes: 0 };
}

const rows: Row[] = [];
const dataRoot = join(tmpdir(), 'lsbackup-bench');
const outDir = join(repo, 'bench/out');
// One work dir per run: two suites (e.g. a profile beside a measurement) must not clean each other's files.
const work = join(outDir, `work-${process.pid}`);

async function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // World-traversable: the fleet's users read the data and restore writes it back.
  mkdirSync(dataRoot, { recursive: true, mode: 0o755 });
  const mode = quick ? 'quick' : 'full';
  const bulkDir = join(dataRoot, `${mode}-bulk`);
  const bigDir = join(dataRoot, `${mode}-big`);
  const hostDir = join(dataRoot, `${mode}-host`);
  log(`machine: ${machine()}`);
  log('generating data sets (reused when already there) ...');
  await ensureDataSet(bulkDir, sizes.bulk);
  await ensureDataSet(hostDir, sizes.host);
  if (want('rss')) await ensureDataSet(bigDir, sizes.big);
  ensureTestUsers(); // the fleet's user owns the data; on a fresh machine it does not exist yet
  execFileSync('chown', ['-R', SUDO_USER, dataRoot]);

  const fleet = await startFleet({ hosts: want('many') ? sizes.hostsMany : want('cluster') ? sizes.hostsLarge : 1 });
  // A stopped bench still stops its sshd processes (by PID, in fleet.stop()).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void fleet.stop().finally(() => process.exit(1)));
  }
  try {
    if (want('single')) await singleHost(fleet, bulkDir);
    if (want('local')) await localHost({ work, dataDir: join(dataRoot, `${mode}-local`), spec: quick ? tinySpec() : LOCAL_SPEC, compare, applyInto, emptyDir });
    if (want('restore')) await restore(fleet, bulkDir);
    if (want('cluster')) {
      await cluster(fleet, hostDir, sizes.hostsSmall);
      await cluster(fleet, hostDir, sizes.hostsLarge);
    }
    if (want('rss')) await rss(fleet, bulkDir, bigDir);
    if (want('many')) await many(fleet, sizes.hostsMany);
    if (want('startup')) await startup();
    if (want('remote')) await remoteCompression(bulkDir);
    if (want('incremental')) incrementalReport = await incremental({ work, dataDir: bulkDir, spec: sizes.bulk, runs, cli, rows, log });
    if (want('catalog')) {
      const files = quick ? 500 : 100_000;
      await catalog({ work, dataDir: join(dataRoot, `${mode}-catalog`), files, copies: quick ? 2 : 29, compare, applyInto, lsbackup });
    }
    if (only?.includes('profile')) await profile(fleet, bulkDir);
  } finally {
    await fleet.stop();
    rmSync(work, { recursive: true, force: true });
  }
  report();
  const failed = rows.flatMap((r) => r.runs.filter((m) => m.exitCode !== 0).map((m) => `${r.name}: exit ${m.exitCode}: ${m.stderrTail}`));
  if (failed.length) {
    console.error(`FAILED:\n${failed.join('\n')}`);
    process.exitCode = 1;
  }
}

function want(name: string): boolean {
  return !only || only.includes(name);
}

function log(message: string) {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)} load ${loadAverage()}] ${message}`);
}

function machine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), Node ${process.version}`;
}

function sshBase(host: FleetHost, fleet: Fleet): string {
  return `ssh -T -c aes128-gcm@openssh.com -o BatchMode=yes -o IdentitiesOnly=yes -i ${fleet.clientKey} -o UserKnownHostsFile=${fleet.knownHosts} -p ${host.port} ${fleet.sudoUser}@${host.address}`;
}

function inventory(fleet: Fleet, name: string, group: string, count: number): string {
  const groups: Record<string, string[]> = {};
  for (const h of fleet.hosts.slice(0, count)) groups[h.name] = [group];
  return fleet.writeInventory(join(work, `inv-${name}`), groups);
}

function recipeFile(name: string, text: string): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Runs `argv` `times` times, records the row; `after` cleans up between runs. */
async function bench(group: string, name: string, bytes: number, argv: string[], after: () => void, times = runs): Promise<Row> {
  const [row] = await compare(group, bytes, [{ name, argv, after }], times);
  return row!;
}

/**
 * Runs the contenders of one comparison in turns: round i runs each once, starting with
 * contender i (mod n), so the runs of each tool are spread over the same minutes. Why: this
 * shared machine's speed drifts by a quarter within minutes (the same 32-host backup took 9.2 s
 * at 16:31 and 6.9 s at 16:38 on 2026-12-05), and a tool measured all at once, then the other,
 * compared two different machines. Each contender gets its own row, as with bench().
 */
async function compare(group: string, bytes: number, contenders: Contender[], times = runs, hostsCpu?: () => Promise<number>): Promise<Row[]> {
  const contenderRows = contenders.map((c): Row => ({ group, name: c.name, command: c.argv.join(' '), bytes, runs: [] }));
  for (let round = 0; round < times; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (round + k) % contenders.length;
      const contender = contenders[i]!;
      const m = await measure(contender.argv, { cwd: work, scratch: work, env: { ANSIBLE_FORKS: '16', ANSIBLE_HOST_KEY_CHECKING: 'False' }, hostsCpu });
      contenderRows[i]!.runs.push(m);
      const onHosts = m.hostsCpuS === undefined ? '' : `, hosts ${m.hostsCpuS.toFixed(1)} s CPU`;
      log(`${contender.name}: ${m.wallS.toFixed(2)} s wall, ${m.cpuS.toFixed(1)} s CPU${onHosts}, ${m.maxRssMiB.toFixed(0)} MiB RSS, exit ${m.exitCode}`);
      if (m.exitCode !== 0) log(m.stderrTail);
      contender.after();
    }
  }
  rows.push(...contenderRows);
  return contenderRows;
}

const sh = (command: string) => ['sh', '-c', command];
const lsbackup = (...rest: string[]) => ['node', cli, ...rest];
/** `lsbackup apply` of `recipe` on `inv` into the directory `out` as `format`, with --json; `rest` adds options. */
const applyInto = (recipe: string, inv: string, out: string, format: string, ...rest: string[]) =>
  lsbackup('apply', recipe, '-b', inv, '-t', out, '-f', format, '--json', '--cluster', 'bench', ...rest);
const emptyDir = (dir: string) => () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
};

/** (a) one host, 1 GiB: lsbackup tar.zst / tar.gz against ssh | zstd, ssh | pigz, ssh | gzip. */
async function singleHost(fleet: Fleet, dataDir: string) {
  const host = fleet.hosts[0]!;
  const bytes = totalBytes(sizes.bulk);
  const inv = inventory(fleet, 'single', 'bulk', 1);
  const recipe = recipeFile('bulk', BULK_RECIPE);
  const out = join(work, 'single-out');
  const clean = emptyDir(out);
  clean();
  const remoteTar = `'tar cf - -C / ${dataDir.slice(1)}'`;
  const apply = (format: string) => applyInto(recipe, inv, out, format, '--var', `bulk.data_dir=${dataDir}`);
  const viaSsh = (compressor: string, file: string) => sh(`${sshBase(host, fleet)} ${remoteTar} | ${compressor} > ${out}/${file}`);
  await compare('single', bytes, [
    { name: 'ssh | zstd -3 -T0', argv: viaSsh('zstd -3 -T0 -q', 'b.tar.zst'), after: clean },
    { name: 'lsbackup tar.zst', argv: apply('tar.zst'), after: clean },
  ]);
  await compare('single', bytes, [
    { name: 'ssh | pigz -6', argv: viaSsh('pigz -6', 'b.tar.gz'), after: clean },
    { name: 'lsbackup tar.gz', argv: apply('tar.gz'), after: clean },
    { name: 'ssh | gzip -6', argv: viaSsh('gzip -6', 'b.tar.gz'), after: clean },
  ]);
}

/** (d) restore throughput of the same 1 GiB backup, against zstd -d | ssh tar x. */
async function restore(fleet: Fleet, dataDir: string) {
  const host = fleet.hosts[0]!;
  const bytes = totalBytes(sizes.bulk);
  const inv = inventory(fleet, 'restore', 'bulk', 1);
  const recipe = recipeFile('bulk', BULK_RECIPE);
  const out = join(work, 'restore-src');
  emptyDir(out)();
  const [node, ...args] = applyInto(recipe, inv, out, 'tar.zst', '--var', `bulk.data_dir=${dataDir}`);
  execFileSync(node!, args, {
    cwd: work,
    stdio: 'ignore',
  });
  const archive = join(
    out,
    readdirSync(out).find((f) => f.endsWith('.tar.zst'))!,
  );
  const staging = join(work, 'staging');
  const clean = emptyDir(staging);
  clean();
  // The same archive's files back onto the host, as the host's user (it owns the data dir).
  await bench(
    'restore',
    'zstd -d | ssh tar x',
    bytes,
    sh(`zstd -d -q -c ${archive} | ${sshBase(host, fleet)} 'mkdir -p /tmp/lsb-bench-untar && tar xf - -C /tmp/lsb-bench-untar'`),
    () => {
      rmSync('/tmp/lsb-bench-untar', { recursive: true, force: true });
    },
  );
  // Staged, then stream mode (issue 17.7): wall time and the staging dir's peak disk use.
  for (const mode of [[], ['--stream']]) {
    const name = `lsbackup restore${mode.length ? ' --stream' : ''}`;
    const sampler = sampleStagingUse(staging);
    const argv = lsbackup('restore', archive, '-b', inv, '-y', '--json', '--staging-dir', staging, '--recipes', recipe, '--var', `bulk.data_dir=${dataDir}`);
    await bench('restore', name, bytes, [...argv, ...mode], clean);
    stagingPeak.set(name, { peak: sampler.stop(), archive: statSync(archive).size });
    log(`${name}: staging peak ${(stagingPeak.get(name)!.peak / 2 ** 20).toFixed(1)} MiB`);
  }
}

/** The incremental group's own table and goals (bench/incremental.ts). */
let incrementalReport: IncrementalReport | undefined;

/** Peak staging disk use per restore benchmark, with the archive's size. */
const stagingPeak = new Map<string, { peak: number; archive: number }>();

/** (b) N hosts, a dump + configs each, against the equivalent ansible-playbook. */
async function cluster(fleet: Fleet, hostDir: string, hosts: number) {
  const bytes = totalBytes(sizes.host) * hosts;
  const inv = inventory(fleet, `cluster${hosts}`, 'cluster', hosts);
  const recipe = recipeFile('cluster', CLUSTER_RECIPE);
  const out = join(work, `cluster${hosts}-out`);
  const clean = emptyDir(out);
  clean();
  const dump = join(hostDir, 'dump.sql');
  const configs = join(hostDir, 'configs');
  const apply = applyInto(recipe, inv, out, 'tar.zst', '--var', `cluster.dump=${dump}`, '--var', `cluster.configs=${configs}`);
  const playbook = recipeFile(`playbook${hosts}`, clusterPlaybook(dump, configs, out));
  // The same pull by OpenSSH's own client, 16 hosts at a time as lsbackup's default concurrency,
  // one session each, all into one zstd: not an archive (the hosts' bytes interleave), a reference
  // for a controller made of separate ssh processes. Slower than lsbackup (session 24, 32 hosts:
  // 12.8-14.7 s against 8.5-10.1 s): each client pays its own start-up, key exchange and
  // decryption, so this is no lower bound for a controller.
  const perHost = fleet.hosts.slice(0, hosts).map((h) => `${sshBase(h, fleet)} 'cat ${dump}; tar cf - -C / ${configs.slice(1)}'`);
  const commands = recipeFile(`fanout${hosts}.txt`, perHost.join('\n') + '\n');
  // bash for pipefail: a host that failed must fail the measurement, not hide behind zstd's exit 0.
  const fanout = ['bash', '-o', 'pipefail', '-c', `xargs -d '\\n' -n 1 -P 16 sh -c < ${commands} | zstd -3 -T0 -q > ${out}/fanout.zst`];
  // What the hosts themselves spend (sshd, shells, cat, tar), counted beside each contender's own CPU.
  const hostsCpu = hostsCpuGroup(fleet.hosts.slice(0, hosts).map((h) => h.pid));
  try {
    await compare(
      `cluster ${hosts} hosts`,
      bytes,
      [
        { name: `lsbackup tar.zst, ${hosts} hosts`, argv: apply, after: clean },
        { name: `ansible-playbook, ${hosts} hosts`, argv: ['ansible-playbook', '-i', inv, playbook], after: clean },
        { name: `ssh fan-out | zstd -3 -T0, ${hosts} hosts`, argv: fanout, after: clean },
      ],
      runs,
      hostsCpu?.read,
    );
  } finally {
    hostsCpu?.remove();
  }
}

/** (c) peak RSS: 1 GiB against ~4 GiB (tar.zst); many hosts at once is the `many` group. */
async function rss(fleet: Fleet, bulkDir: string, bigDir: string) {
  const inv = inventory(fleet, 'rss', 'bulk', 1);
  const recipe = recipeFile('bulk', BULK_RECIPE);
  const out = join(work, 'rss-out');
  const clean = emptyDir(out);
  clean();
  for (const [label, dir, spec] of [
    ['1 GiB', bulkDir, sizes.bulk],
    ['4 GiB', bigDir, sizes.big],
  ] as const) {
    await bench('rss', `lsbackup tar.zst ${label}`, totalBytes(spec), applyInto(recipe, inv, out, 'tar.zst', '--var', `bulk.data_dir=${dir}`), clean);
  }
}

/** (c) 50 hosts with a trivial recipe: connection set-up and per-host overhead. */
async function many(fleet: Fleet, hosts: number) {
  const inv = inventory(fleet, `many${hosts}`, 'cluster', hosts);
  const recipe = recipeFile('trivial', TRIVIAL_RECIPE);
  const out = join(work, 'many-out');
  const clean = emptyDir(out);
  clean();
  await bench(
    'many',
    `lsbackup trivial, ${hosts} hosts, --concurrency ${hosts}`,
    0,
    applyInto(recipe, inv, out, 'tar.zst', '--concurrency', String(hosts)),
    clean,
  );
  await bench('many', `lsbackup trivial, ${hosts} hosts, default concurrency`, 0, applyInto(recipe, inv, out, 'tar.zst'), clean);
}

/**
 * (f) start-up: the fixed cost of every run. A trivial recipe (one `echo`) on the local host
 * (`ansible_connection=local`, no SSH) into a local target, against starting Node itself; the
 * runs are many because each is short.
 */
async function startup() {
  const inv = join(work, 'inv-startup');
  writeFileSync(inv, '[cluster]\nlocalhost ansible_connection=local\n');
  const recipe = recipeFile('trivial', TRIVIAL_RECIPE);
  const out = join(work, 'startup-out');
  const clean = emptyDir(out);
  clean();
  const times = quick ? 1 : runs * 3;
  // In turns with Node alone: the machine's drift moves both.
  const none = () => {};
  const trivial = lsbackup('apply', recipe, '-b', inv, '-t', out, '--json', '--cluster', 'bench');
  // NODE_EXTRA_CA_CERTS makes every Node process parse that file's certificates before any of its
  // code runs (the sandboxes these benchmarks run in point it at the whole system bundle: ~0.09 s).
  // It is the environment's cost, not lsbackup's: measured with it and without.
  const withoutExtraCas = process.env.NODE_EXTRA_CA_CERTS
    ? [
        { name: 'node -e 0, no NODE_EXTRA_CA_CERTS', argv: ['env', '-u', 'NODE_EXTRA_CA_CERTS', 'node', '-e', '0'], after: none },
        { name: 'lsbackup trivial, local host, no NODE_EXTRA_CA_CERTS', argv: ['env', '-u', 'NODE_EXTRA_CA_CERTS', ...trivial], after: clean },
      ]
    : [];
  await compare(
    'startup',
    0,
    [
      { name: 'node -e 0', argv: ['node', '-e', '0'], after: none },
      { name: 'lsbackup --version', argv: lsbackup('--version'), after: none },
      { name: 'lsbackup trivial, local host', argv: trivial, after: clean },
      // What every `apply recipes/` reads before it runs anything: the shipped recipes, validated.
      { name: 'lsbackup validate recipes/ (shipped)', argv: lsbackup('validate', join(repo, 'recipes')), after: none },
      ...withoutExtraCas,
    ],
    times,
  );
}

/** The link of the `remote` group: what a host behind a modest WAN or a shared 1 Gbit/s uplink gets. */
const REMOTE_LINK_RATE = '200mbit';
/** Bytes the host sent on its link per run, by benchmark name (remote group). */
const linkBytes = new Map<string, number>();

/**
 * (e) compress: remote: the single-host data set from one host behind a shaped link (its own
 * network namespace, tc tbf), `--compress local` (as is over SSH) against `--compress remote`
 * (zstd -1 on the host). On this machine the "host" shares the two cores with lsbackup; its
 * zstd runs under sshd, so it is not in the CPU column.
 */
async function remoteCompression(dataDir: string) {
  const unavailable = netnsUnavailable();
  if (unavailable) {
    log(`remote: SKIPPED, network namespaces are not available: ${unavailable}`);
    return;
  }
  const link = await startNetnsFleet({ hosts: 1 });
  try {
    link.throttle(0, REMOTE_LINK_RATE);
    const inv = link.writeInventory(join(work, 'inv-remote'), { host1: ['bulk'] });
    const recipe = recipeFile('bulk', BULK_RECIPE);
    const out = join(work, 'remote-out');
    const clean = emptyDir(out);
    clean();
    for (const where of ['local', 'remote']) {
      const name = `lsbackup tar.zst --compress ${where}, ${REMOTE_LINK_RATE} link`;
      const sentBefore = link.sentBytes(0);
      const row = await bench(
        'remote',
        name,
        totalBytes(sizes.bulk),
        applyInto(recipe, inv, out, 'tar.zst', '--compress', where, '--var', `bulk.data_dir=${dataDir}`),
        clean,
      );
      linkBytes.set(name, (link.sentBytes(0) - sentBefore) / row.runs.length);
      log(`${name}: the host sent ${(linkBytes.get(name)! / 1e6).toFixed(1)} MB per run`);
    }
  } finally {
    await link.teardown();
  }
}

/** `--only profile`: one 1 GiB backup per format under `node --cpu-prof`, summarised by bench/profile-summary.mjs. */
async function profile(fleet: Fleet, dataDir: string) {
  const inv = inventory(fleet, 'profile', 'bulk', 1);
  const recipe = recipeFile('bulk', BULK_RECIPE);
  const out = join(work, 'profile-out');
  const clean = emptyDir(out);
  clean();
  for (const format of ['tar.zst', 'tar.gz']) {
    const dir = join(outDir, 'prof', format);
    rmSync(dir, { recursive: true, force: true });
    const [node, ...args] = applyInto(recipe, inv, out, format, '--var', `bulk.data_dir=${dataDir}`);
    const argv = [node!, '--cpu-prof', '--cpu-prof-dir', dir, ...args];
    await bench('profile', `lsbackup ${format} under --cpu-prof`, totalBytes(sizes.bulk), argv, clean, 1);
    const [file] = readdirSync(dir);
    if (file) console.log(execFileSync('node', [join(repo, 'bench/profile-summary.mjs'), join(dir, file), '12'], { encoding: 'utf8' }));
  }
}

function summary(row: Row) {
  const ok = row.runs.filter((m) => m.exitCode === 0);
  const use = ok.length ? ok : row.runs;
  const wall = median(use.map((m) => m.wallS));
  return {
    wall,
    cpu: median(use.map((m) => m.cpuS)),
    rss: Math.max(...use.map((m) => m.maxRssMiB)),
    hostsCpu: use.every((m) => m.hostsCpuS !== undefined) ? median(use.map((m) => m.hostsCpuS!)) : undefined,
    mbps: row.bytes ? row.bytes / 1e6 / wall : 0,
    load: use.map((m) => m.load1.toFixed(1)).join('/'),
    n: use.length,
  };
}

/** Pipes in benchmark names would split markdown cells. */
const cell = (text: string) => text.replaceAll('|', '\\|');

function report() {
  const find = (name: string) => rows.find((r) => r.name === name);
  const ratio = (a: string, b: string, higherIsBetter = true) => {
    const ra = find(a);
    const rb = find(b);
    if (!ra || !rb) return undefined;
    const sa = summary(ra).wall;
    const sb = summary(rb).wall;
    return higherIsBetter ? sb / sa : sa / sb;
  };
  const lines = [
    `Machine: ${machine()}`,
    `Mode: ${quick ? 'quick' : 'full'}, runs per benchmark: ${runs} (median; some baselines fewer, see n); the commands of a comparison run in turns`,
    '',
    "| group | benchmark | MB/s | wall s (median) | CPU s | hosts' CPU s | peak RSS MiB | n | load1 before each run |",
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const s = summary(r);
      return `| ${r.group} | ${cell(r.name)} | ${s.mbps ? s.mbps.toFixed(0) : '–'} | ${s.wall.toFixed(2)} | ${s.cpu.toFixed(1)} | ${s.hostsCpu === undefined ? '–' : s.hostsCpu.toFixed(1)} | ${s.rss.toFixed(0)} | ${s.n} | ${s.load} |`;
    }),
    '',
    '| target | ratio (same run) | goal |',
    '|---|---|---|',
  ];
  const target = (label: string, value: number | undefined, goal: string) => {
    if (value !== undefined) lines.push(`| ${cell(label)} | ${value.toFixed(2)}× | ${goal} |`);
  };
  target('tar.zst vs ssh | zstd (throughput)', ratio('lsbackup tar.zst', 'ssh | zstd -3 -T0'), '≥ 0.8×');
  target('tar.gz vs ssh | pigz (throughput)', ratio('lsbackup tar.gz', 'ssh | pigz -6'), '≥ 0.8×');
  target('tar.gz vs ssh | gzip -6 (throughput)', ratio('lsbackup tar.gz', 'ssh | gzip -6'), '≥ 2×');
  target('local: tar.zst vs tar | zstd (throughput)', ratio(LOCAL_NAMES.lsbZstd, LOCAL_NAMES.zstd), '≥ 0.6×');
  target('local: tar.gz vs tar | pigz (throughput)', ratio(LOCAL_NAMES.lsbGz, LOCAL_NAMES.pigz), '(reference)');
  target('restore vs zstd -d | ssh tar x (throughput)', ratio('lsbackup restore', 'zstd -d | ssh tar x'), '(reference)');
  for (const n of [sizes.hostsSmall, sizes.hostsLarge]) {
    target(
      `${n} hosts: ansible wall / lsbackup wall`,
      ratio(`lsbackup tar.zst, ${n} hosts`, `ansible-playbook, ${n} hosts`),
      n === sizes.hostsSmall ? '≥ 10×' : '≥ 15×',
    );
    target(`${n} hosts: ssh fan-out wall / lsbackup wall`, ratio(`lsbackup tar.zst, ${n} hosts`, `ssh fan-out | zstd -3 -T0, ${n} hosts`), '(reference)');
  }
  const trivial = find('lsbackup trivial, local host');
  if (trivial) {
    const node = find('node -e 0');
    const wall = summary(trivial).wall;
    lines.push(`| start-up: a trivial local run | ${wall.toFixed(2)} s wall${node ? ` (Node alone ${summary(node).wall.toFixed(2)} s)` : ''} | ≤ 0.3 s |`);
  }
  const trivialPlain = find('lsbackup trivial, local host, no NODE_EXTRA_CA_CERTS');
  const nodePlain = find('node -e 0, no NODE_EXTRA_CA_CERTS');
  if (trivialPlain && nodePlain) {
    lines.push(
      `| start-up: a trivial local run, no NODE_EXTRA_CA_CERTS | ${summary(trivialPlain).wall.toFixed(2)} s wall (Node alone ${summary(nodePlain).wall.toFixed(2)} s) | ≤ 0.3 s |`,
    );
  }
  const small = find('lsbackup tar.zst 1 GiB');
  const big = find('lsbackup tar.zst 4 GiB');
  if (small && big) {
    const a = summary(small).rss;
    const b = summary(big).rss;
    lines.push(`| peak RSS 1 GiB → 4 GiB | ${a.toFixed(0)} → ${b.toFixed(0)} MiB (${(((b - a) / a) * 100).toFixed(0)}%) | ≤ 200 MiB, within 10% |`);
  }
  const viaLink = (where: string) => `lsbackup tar.zst --compress ${where}, ${REMOTE_LINK_RATE} link`;
  target(`--compress remote vs local over ${REMOTE_LINK_RATE} (throughput)`, ratio(viaLink('remote'), viaLink('local')), '(reference)');
  if (linkBytes.size === 2) {
    const [local, remote] = [linkBytes.get(viaLink('local'))!, linkBytes.get(viaLink('remote'))!];
    lines.push(
      `| bytes on the link per run, local → remote | ${(local / 1e6).toFixed(0)} → ${(remote / 1e6).toFixed(0)} MB (${(local / remote).toFixed(2)}× fewer) | (reference) |`,
    );
  }
  for (const [name, { peak, archive }] of stagingPeak) {
    lines.push(`| ${name}: peak staging disk | ${(peak / 1024).toFixed(0)} KiB (${((peak / archive) * 100).toFixed(2)} % of the archive) | --stream ≤ 1 % |`);
  }
  const many = rows.find((r) => r.group === 'many');
  if (many) lines.push(`| ${cell(many.name)} | ${summary(many).wall.toFixed(2)} s wall, ${summary(many).rss.toFixed(0)} MiB | well under 5 s |`);
  lines.push(...(incrementalReport?.markdown ?? []));
  const text = lines.join('\n') + '\n';
  console.log('\n' + text);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `results-${quick ? 'quick' : 'full'}.md`), text);
  writeFileSync(
    join(outDir, `results-${quick ? 'quick' : 'full'}.json`),
    JSON.stringify({ machine: machine(), rows, incremental: incrementalReport?.json }, null, 2),
  );
}

await main();
