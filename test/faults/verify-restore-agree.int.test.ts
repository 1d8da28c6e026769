/**
 * `verify` and `restore` agree on every archive: a backup `verify` passes restores (staged and
 * `--stream`) byte for byte, and a backup restore refuses fails `verify`. Tested generatively:
 * real backups (tar.gz, tar.zst, zip; plain, age-encrypted, signed; incremental chains of a
 * full and two incrementals: plain, encrypted, signed) are copied and damaged by a seeded mutation (test/faults/archive-mutants.ts),
 * then verified and restored through the built CLI. Each mutant must be refused by all three
 * before any host is touched, or accepted by all three with the tree restored as backed up.
 *
 * A second family of mutations (test/faults/archive-mutants-wide.ts: overwrites, cuts at entry
 * boundaries, malformed or forged `.sha256` lines, emptied sidecars, swapped backups, another
 * backup's signature, re-encryption for another recipient) has seeds of its own, `w<n>`, so the
 * numbered seeds keep their mutants. CI runs the seeds 1..LSB_AGREE_SEEDS (default 12),
 * w1..w<LSB_AGREE_WIDE_SEEDS> (default none) and the seeds that found defects (of both families); replay one
 * with LSB_AGREE_SEED=<seed> (or several: 12,24,w7). LSB_AGREE_LOG=<file> writes one JSON line per mutant (outcome,
 * what each command said); LSB_AGREE_KEEP=1 keeps the mutants to replay them by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { prng } from '../helpers/prng.js';
import { swapBackups } from '../helpers/archive.js';
import { cliOutput, runCli, workspace, type CliResult } from '../helpers/cli.js';
import { MUTATIONS, mutate, rewriteMembers, rewriteMetadata, type Age, type Json, type StoredBackup } from './archive-mutants.js';
import { mutateWide, strangerKey, WIDE_MUTATIONS, type WideContext } from './archive-mutants-wide.js';

/** A seed: a number (the first family, archive-mutants.ts) or `w<n>` (the second, archive-mutants-wide.ts). */
type Seed = number | `w${number}`;
const range = (count: string | undefined, fallback: number) => Array.from({ length: Number(count ?? fallback) }, (_, i) => i + 1);
const SEEDS: Seed[] = process.env.LSB_AGREE_SEED
  ? process.env.LSB_AGREE_SEED.split(',').map((s) => (s.startsWith('w') ? (s as Seed) : Number(s)))
  : [...range(process.env.LSB_AGREE_SEEDS, 12), ...range(process.env.LSB_AGREE_WIDE_SEEDS, 0).map((n): Seed => `w${n}`)];
/** Keep the workspace and each mutant's target (replaying a seed by hand). */
const KEEP = process.env.LSB_AGREE_KEEP === '1';
/** What Node prints for an error nothing caught (an unhandled 'error' event, an uncaught exception). */
const CRASHED = /Unhandled 'error' event|^\s*throw er;|^\s+at .+:\d+:\d+\)?$/m;
/**
 * Seeds that found a disagreement once: always run. w17 and w74 swap the newest backup (the one
 * restored) with an older one of its chain, sidecars and all: verify OK and restore exit 0 said
 * nothing while the older backup's data was restored by the newest's name.
 */
const FOUND: Seed[] = [1, 16, 22, 44, 'w2', 'w46', 'w17', 'w74'];
/** Where the second family's seeds start in the PRNG's seed space (far from the first family's). */
const WIDE_SEED_SPACE = 0x5eed0000;

interface Baseline {
  label: string;
  dir: string;
  target: string;
  build: string;
  recipes: string;
  tree: string;
  out: string;
  marker: string;
  /** The target's backups, oldest first; the last one is restored. */
  chain: StoredBackup[];
  /** Options verify and restore need (identity, trusted keys). */
  access: string[];
  /** The restored tree and output as they were backed up. */
  expected: string;
  /** The same of each backup of `chain` (the last is `expected`): what it restores when stored under the newest's name. */
  expectedOf: string[];
}

let ws: Awaited<ReturnType<typeof workspace>>;
let age: Age;
let signers: string;
let signKey: string;
let stranger: WideContext['stranger'];
const baselines: Baseline[] = [];

/** Every path under `tree` and the output file: type, mode, mtime, content or link target, hardlink groups. */
function describeRestored(tree: string, out: string): string {
  const lines: string[] = [];
  const inodes = new Map<number, number>();
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    let what = `${rel} mode=${(st.mode & 0o7777).toString(8)} uid=${st.uid} gid=${st.gid}`;
    if (st.isDirectory()) {
      lines.push(`${what} dir mtime=${Math.floor(st.mtimeMs / 1000)}`);
      for (const name of readdirSync(abs).sort()) walk(path.join(abs, name), `${rel}/${name}`);
      return;
    }
    if (st.isSymbolicLink()) what += ` -> ${readlinkSync(abs)}`;
    else if (st.isFile()) {
      what += ` file mtime=${Math.floor(st.mtimeMs / 1000)} sha=${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
      if (st.nlink > 1) {
        if (!inodes.has(st.ino)) inodes.set(st.ino, inodes.size);
        what += ` group=${inodes.get(st.ino)}`;
      }
    } else what += ' other';
    lines.push(what);
  };
  walk(tree, '.');
  lines.push(existsSync(out) ? `out sha=${createHash('sha256').update(readFileSync(out)).digest('hex')}` : 'out missing');
  return lines.join('\n');
}

async function makeBaseline(label: string, options: { format: StoredBackup['format']; encrypt?: boolean; sign?: boolean; chain?: boolean }): Promise<Baseline> {
  const dir = path.join(ws.dir, label);
  const [build, target, recipes, data] = ['build', 'backups', 'recipes', 'data'].map((d) => path.join(dir, d)) as [string, string, string, string];
  const tree = path.join(data, 'tree');
  const out = path.join(data, 'out.bin');
  const marker = path.join(data, 'restore-pre-ran');
  const rng = prng(label.length * 7919);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  await mkdir(build, { recursive: true });
  await mkdir(recipes, { recursive: true });
  await writeFile(path.join(build, 'inventory'), '[app]\nlocalhost ansible_connection=local\n');
  await writeFile(path.join(data, 'out.src'), bytes(5000));
  await writeFile(path.join(tree, 'a.txt'), 'hello\n');
  await writeFile(path.join(tree, 'sub', 'b.bin'), bytes(3000));
  await writeFile(path.join(tree, 'empty'), '');
  await execa('ln', ['-s', 'a.txt', path.join(tree, 'link')]);
  // zip holds no hardlinks (such a backup fails by design).
  if (options.format !== 'zip') await execa('ln', [path.join(tree, 'a.txt'), path.join(tree, 'sub', 'hard')]);
  await chmod(path.join(tree, 'sub'), 0o750);
  await writeFile(
    path.join(recipes, 'app.yaml'),
    `apiVersion: lsbackup/v1
kind: Recipe
metadata: { name: app, version: 1.0.0 }
spec:
  hosts: { group: app }
  backup:
    collect:
      - path: ${tree}
    snapshot:
      - run: cat ${data}/out.src
        output: out.bin
  restore:
    pre:
      - run: touch ${marker}
    apply:
      - files: ${tree}
      - run: cat > ${out}
        input: out.bin
`,
  );
  const access = [...(options.encrypt ? ['--identity', age.identity] : []), ...(options.sign ? ['--trusted-keys', signers] : [])];
  await writeFile(out, await readFile(path.join(data, 'out.src')));
  const expectedOf: string[] = [];
  const apply = async (extra: string[]) => {
    // Each backup of a chain in a second of its own: its name's time is its own, not shared with its base's (`_1`).
    const previous = Math.floor(Date.now() / 1000);
    if (expectedOf.length > 0) while (Math.floor(Date.now() / 1000) === previous) await new Promise((resolve) => setTimeout(resolve, 50));
    const r = await runCli(['apply', recipes, '-b', build, '-t', target, '--format', options.format, '-q', ...extra], { timeoutMs: 300_000 });
    if (r.exitCode !== 0) throw new Error(`${label}: apply ${extra.join(' ')} failed: ${r.stderr}`);
    expectedOf.push(describeRestored(tree, out));
  };
  // The identity reads the base's encrypted metadata: without it --incremental makes a full backup.
  const backupOptions = [
    ...(options.encrypt ? ['--encrypt-to', age.recipient, '--identity', age.identity] : []),
    ...(options.sign ? ['--sign-key', signKey] : []),
  ];
  if (options.chain) {
    await apply([...backupOptions, '--full']);
    // Changes the incrementals carry, with mtimes the host's comparison cannot miss.
    await writeFile(path.join(tree, 'c.txt'), 'added in the first incremental\n');
    await writeFile(path.join(tree, 'empty'), 'no longer empty\n');
    await utimes(path.join(tree, 'empty'), 1_700_000_000, 1_700_000_000);
    await apply([...backupOptions, '--incremental']);
    await writeFile(path.join(tree, 'c.txt'), 'changed in the second\n');
    await utimes(path.join(tree, 'c.txt'), 1_700_000_100, 1_700_000_100);
    await rm(path.join(tree, 'empty'));
    await apply([...backupOptions, '--incremental']);
  } else await apply(backupOptions);
  const suffix = `.${options.format}${options.encrypt ? '.age' : ''}`;
  const names = (await readdir(target)).filter((n) => n.endsWith(suffix)).sort();
  return {
    label,
    dir,
    target,
    build,
    recipes,
    tree,
    out,
    marker,
    chain: names.map((n) => ({ object: path.join(target, n), format: options.format, age: options.encrypt ? age : undefined })),
    access,
    expected: expectedOf.at(-1)!,
    expectedOf,
  };
}

beforeAll(async () => {
  ws = await workspace('lsb-agree-');
  const key = path.join(ws.dir, 'age-key.txt');
  await execa('age-keygen', ['-o', key]);
  age = { identity: key, recipient: /age1[0-9a-z]+/.exec(await readFile(key, 'utf8'))![0] };
  signKey = path.join(ws.dir, 'signing');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', signKey]);
  stranger = await strangerKey(ws.dir);
  signers = path.join(ws.dir, 'allowed_signers');
  await writeFile(signers, `ci ${await readFile(`${signKey}.pub`, 'utf8')}`);
  // Two at a time: the machine has two cores.
  const specs: [string, Parameters<typeof makeBaseline>[1]][] = [
    ['gz', { format: 'tar.gz' }],
    ['zst', { format: 'tar.zst' }],
    ['zip', { format: 'zip' }],
    ['gz-age', { format: 'tar.gz', encrypt: true }],
    ['zst-signed', { format: 'tar.zst', sign: true }],
    ['gz-chain', { format: 'tar.gz', chain: true }],
    ['zst-age-chain', { format: 'tar.zst', encrypt: true, chain: true }],
    ['gz-signed-chain', { format: 'tar.gz', sign: true, chain: true }],
  ];
  for (let i = 0; i < specs.length; i += 2) baselines.push(...(await Promise.all(specs.slice(i, i + 2).map(([l, o]) => makeBaseline(l, o)))));
}, 600_000);
afterAll(async () => {
  if (KEEP) console.log(`LSB_AGREE_KEEP: mutants kept in ${ws.dir}/mutants`);
  else await ws?.cleanup();
});

interface RestoreRun {
  mode: 'staged' | 'stream';
  result: CliResult;
  touched: boolean;
  same: boolean;
  restored: string;
}

/** The problem a command reported: its error lines, without progress and plan. */
const problem = (r: CliResult) =>
  `${r.stdout}\n${r.stderr}`
    .split('\n')
    .filter((l) => /error|refus|damag|fail|mismatch|missing|does not|not match|BAD|cannot|unsafe|changed/i.test(l))
    .slice(0, 6)
    .join('\n');

/** `expected`: the tree of the backup the archive under `name` holds. */
async function restore(b: Baseline, target: string, name: string, mode: RestoreRun['mode'], expected: string): Promise<RestoreRun> {
  await rm(b.tree, { recursive: true, force: true });
  await rm(b.out, { force: true });
  await rm(b.marker, { force: true });
  const result = await runCli(
    ['restore', name, '-t', target, '-b', b.build, '--yes', '--recipes', b.recipes, ...b.access, ...(mode === 'stream' ? ['--stream'] : [])],
    { timeoutMs: 300_000 },
  );
  const restored = existsSync(b.tree) ? describeRestored(b.tree, b.out) : 'no tree';
  return { mode, result, touched: existsSync(b.marker), same: restored === expected, restored };
}

async function firstMutant(rng: () => number, victim: StoredBackup, chain: StoredBackup[]): Promise<[string, string | undefined]> {
  const mutation = MUTATIONS[Math.floor(rng() * MUTATIONS.length)]!;
  return [mutation, await mutate(rng, mutation, victim, chain)];
}

/** A mutant of the second family: other baselines' backups are what an operator's copy may mix in. */
async function wideMutant(rng: () => number, victim: StoredBackup, chain: StoredBackup[], b: Baseline): Promise<[string, string | undefined]> {
  const mutation = WIDE_MUTATIONS[Math.floor(rng() * WIDE_MUTATIONS.length)]!;
  const others = baselines.filter((o) => o !== b).flatMap((o) => o.chain);
  return [mutation, await mutateWide(rng, mutation, victim, chain, { others, stranger })];
}

/** Makes the mutant of `seed`, runs verify and both restores, and says what disagrees (empty when they agree). */
async function agreement(seed: Seed): Promise<{ what: string; defects: string[] }> {
  const wide = typeof seed === 'string';
  // Its own seed space: w<n> is not seed n's sequence.
  const rng = wide ? prng(WIDE_SEED_SPACE + Number(seed.slice(1))) : prng(seed);
  const b = baselines[Math.floor(rng() * baselines.length)]!;
  const target = path.join(ws.dir, 'mutants', String(seed));
  let what: string | undefined;
  let victim!: StoredBackup;
  for (let tries = 0; what === undefined; tries++) {
    if (tries === 20) throw new Error(`seed ${seed}: no mutation applies to ${b.label}`);
    await rm(target, { recursive: true, force: true });
    await cp(b.target, target, { recursive: true });
    const chain = b.chain.map((m) => ({ ...m, object: path.join(target, path.basename(m.object)) }));
    victim = chain[Math.floor(rng() * chain.length)]!;
    const [mutation, said] = wide ? await wideMutant(rng, victim, chain, b) : await firstMutant(rng, victim, chain);
    if (said !== undefined) what = `${mutation}: ${path.basename(victim.object)}: ${said}`;
  }
  what = `seed ${seed}, ${b.label}, ${what}`;
  const { verify, restores, defects } = await judge(b, target);
  if (process.env.LSB_AGREE_LOG)
    appendFileSync(
      process.env.LSB_AGREE_LOG,
      JSON.stringify({
        seed,
        what,
        outcome: defects.length ? 'DEFECT' : verify.exitCode === 0 ? 'accepted' : 'refused',
        verify: [verify.exitCode, problem(verify)],
        restores: restores.map((r) => [r.mode, r.result.exitCode, r.touched, r.same, problem(r.result)]),
        defects,
      }) + '\n',
    );
  return { what, defects };
}

/** A copy of baseline `label`'s target, changed by `change` (given the copy's path of each backup, oldest first). */
async function copyOf(label: string, change: (objects: string[]) => Promise<void>): Promise<{ b: Baseline; target: string }> {
  const b = baselines.find((x) => x.label === label)!;
  const target = path.join(ws.dir, 'named', `${label}-${Math.random().toString(36).slice(2)}`);
  await cp(b.target, target, { recursive: true });
  await change(b.chain.map((m) => path.join(target, path.basename(m.object))));
  return { b, target };
}

/** `<cluster>-<time>` of an archive name: what verify and restore call the backup an archive was made as. */
const madeAsLabel = (object: string) =>
  path
    .basename(object)
    .replace(/^lsbackup-/, '')
    .replace(/(_\d+)?\.(tar\.gz|tar\.zst|zip)(\.age)?$/, '');

/** Which backup of `b`'s chain the newest's name holds in `target`: another one's archive (a swap), else the newest. */
async function heldUnderNewest(b: Baseline, target: string): Promise<number> {
  const newest = b.chain.length - 1;
  const stored = await readFile(path.join(target, path.basename(b.chain[newest]!.object))).catch(() => undefined);
  for (let i = 0; stored && i < newest; i++) if (stored.equals(await readFile(b.chain[i]!.object))) return i;
  return newest;
}

/** Restores the newest backup of `target` staged and streamed, then verifies it; what disagrees. */
async function judge(b: Baseline, target: string): Promise<{ verify: CliResult; restores: RestoreRun[]; defects: string[] }> {
  const name = path.basename(b.chain[b.chain.length - 1]!.object);
  // Another backup of the chain under the newest's name restores as itself, and both say which it is (engine/archive/made-as.ts).
  const held = await heldUnderNewest(b, target);
  const expected = b.expectedOf[held]!;
  const madeAs =
    madeAsLabel(b.chain[held]!.object) === madeAsLabel(name) ? undefined : `this archive was made as ${madeAsLabel(b.chain[held]!.object)} (started `;
  // Restores first: verify records a damaged backup in the target, which restore must not need.
  const restores = [await restore(b, target, name, 'staged', expected)];
  // zip cannot stream (docs/restore.md).
  if (b.chain[0]!.format !== 'zip') restores.push(await restore(b, target, name, 'stream', expected));
  const verify = await runCli(['verify', name, '-t', target, ...b.access], { timeoutMs: 300_000 });
  if (!KEEP) await rm(target, { recursive: true, force: true });

  const defects: string[] = [];
  const verifyOk = verify.exitCode === 0;
  for (const r of restores) {
    const accepted = r.result.exitCode === 0;
    if (accepted && !r.same) defects.push(`${r.mode} restore exit 0 with a tree other than the one backed up:\n${r.restored}\n--- expected\n${expected}`);
    if (accepted && madeAs && !r.result.stderr.includes(`warning: ${madeAs}`))
      defects.push(`${r.mode} restore exit 0 with another backup's data, not saying '${madeAs}…'`);
    if (!accepted && r.touched) defects.push(`${r.mode} restore exit ${r.result.exitCode} after touching the host (its pre step ran): ${problem(r.result)}`);
    if (verifyOk && !accepted) defects.push(`verify OK, ${r.mode} restore exit ${r.result.exitCode}: ${problem(r.result)}`);
    if (!verifyOk && accepted) defects.push(`verify exit ${verify.exitCode} (${problem(verify)}), ${r.mode} restore exit 0`);
  }
  // A refusal is a sentence, never a crash: an uncaught error prints Node's stack instead.
  for (const [what, run] of [['verify', verify], ...restores.map((r) => [`${r.mode} restore`, r.result] as const)] as const) {
    if (CRASHED.test(cliOutput(run))) defects.push(`${what} crashed: ${cliOutput(run).slice(0, 2000)}`);
  }
  if (verifyOk && madeAs && !verify.stdout.includes(`warning: ${madeAs}`)) defects.push(`verify OK of another backup's archive, not saying '${madeAs}…'`);
  if (restores.length === 2 && restores[0]!.result.exitCode !== restores[1]!.result.exitCode)
    defects.push(`staged exit ${restores[0]!.result.exitCode}, --stream exit ${restores[1]!.result.exitCode}`);
  return { verify, restores, defects };
}

/** Both restores and verify refused it, each saying `words`, and no host was touched. */
function refusedAlike(run: { verify: CliResult; restores: RestoreRun[]; defects: string[] }, words: string): void {
  expect(run.defects).toEqual([]);
  expect(run.verify.exitCode, run.verify.stdout).toBe(1);
  expect(run.verify.stdout).toContain(words);
  for (const r of run.restores) {
    expect(r.result.exitCode, `${r.mode}: ${r.result.stderr}`).toBe(1);
    expect(r.result.stderr, r.mode).toContain('refused before any host was touched');
    expect(r.result.stderr, r.mode).toContain(words);
    expect(r.touched, r.mode).toBe(false);
  }
}

describe('verify and restore agree on damaged archives', () => {
  it.each([...new Set([...FOUND, ...SEEDS])])(
    'seed %s',
    async (seed) => {
      const { what, defects } = await agreement(seed);
      expect(defects, what).toEqual([]);
    },
    900_000,
  );
});

describe('verify and restore agree on what they found', () => {
  it("a metadata sidecar that differs from the archive's metadata.json (one entry's mode): refused by verify and both restores alike", async () => {
    let id = '';
    const { b, target } = await copyOf('gz', async ([object]) => {
      const sidecar = JSON.parse(await readFile(`${object}.metadata.json`, 'utf8'));
      id = sidecar.backupId;
      sidecar.entries.find((e: { path: string }) => e.path.endsWith('/sub/b.bin')).mode = 0o4755;
      await writeFile(`${object}.metadata.json`, JSON.stringify(sidecar, null, 2));
    });
    // The same backup: the words say where the sidecar differs, not two equal ids.
    refusedAlike(
      await judge(b, target),
      `.metadata.json sidecar is not this archive's metadata.json (backup ${id} too, but it differs at the record of entry 'app/localhost/files/`,
    );
  }, 300_000);

  it.each([
    ['gz', -1, 'emptied', 'it is not lsbackup metadata: empty, cut short or of another program'],
    ['zst-age-chain', 1, 'encrypted for another recipient', 'it cannot be read: '],
  ] as const)(
    "a metadata sidecar that cannot be read (%s, member %i, %s): accepted by verify, with a warning naming it, and by both restores, which go by the archive's own metadata.json",
    async (label, member, how, words) => {
      let sidecar = '';
      const { b, target } = await copyOf(label, async (objects) => {
        const object = objects.at(member)!;
        sidecar = `${object}.metadata.json${label.includes('age') ? '.age' : ''}`;
        if (how === 'emptied') await writeFile(sidecar, '');
        else {
          const plain = (await execa('age', ['-d', '-i', age.identity, sidecar], { encoding: 'buffer' })).stdout;
          await writeFile(sidecar, (await execa('age', ['-r', stranger.recipient], { input: Buffer.from(plain), encoding: 'buffer' })).stdout);
        }
      });
      const run = await judge(b, target);
      expect(run.defects).toEqual([]);
      expect(run.verify.exitCode, cliOutput(run.verify)).toBe(0);
      const prefix = member === -1 ? '' : `${path.basename(sidecar).replace(/\.metadata\.json.*$/, '')}: `;
      expect(run.verify.stdout).toContain(`warning: ${prefix}the ${path.basename(sidecar)} sidecar is not this archive's metadata.json (${words}`);
      expect(run.verify.stdout, 'not marked damaged').not.toContain('damaged');
      expect(run.restores.map((r) => [r.result.exitCode, r.same])).toEqual([
        [0, true],
        [0, true],
      ]);
    },
    300_000,
  );

  it('a component renamed in metadata.json, its sidecar and .sha256 of an unsigned backup: refused by verify and both restores alike, naming the entries it leaves under no component', async () => {
    const { b, target } = await copyOf('gz', async ([object]) => {
      await rewriteMetadata(
        { object: object!, format: 'tar.gz' },
        (meta) => {
          (meta.components as Json[])[0]!.name = 'other';
          return 'app renamed other';
        },
        true,
      );
    });
    const run = await judge(b, target);
    expect(run.defects).toEqual([]);
    const words = "which is no component of the backup (its components are 'other'): each component's entries lie under its name";
    for (const r of [run.verify, ...run.restores.map((x) => x.result)]) {
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(`${r.stdout}${r.stderr}`, cliOutput(r)).toContain(words);
    }
    expect(run.restores.map((r) => r.touched)).toEqual([false, false]);
  }, 300_000);

  it("a chain base without its .sha256 sidecar: accepted by verify and both restores, the child's recorded sha256 vouching for it; the same base's bytes changed: refused by all three alike", async () => {
    const [full] = baselines.find((x) => x.label === 'gz-chain')!.chain;
    const name = path.basename(full!.object);
    const vouched = await copyOf('gz-chain', async ([base]) => rm(`${base}.sha256`));
    const accepted = await judge(vouched.b, vouched.target);
    expect(accepted.defects).toEqual([]);
    expect(accepted.verify.exitCode, cliOutput(accepted.verify)).toBe(0);
    expect(accepted.verify.stdout).toContain(`note: ${name} has no .sha256 sidecar: its stored bytes were checked against the sha256`);
    expect(accepted.restores.map((r) => [r.result.exitCode, r.same])).toEqual([
      [0, true],
      [0, true],
    ]);
    // The same entries, compressed again: another sha256 than the one the child recorded.
    const replaced = await copyOf('gz-chain', async ([base]) => {
      await writeFile(base!, gzipSync(gunzipSync(await readFile(base!)), { level: 1 }));
      await rm(`${base}.sha256`);
    });
    const run = await judge(replaced.b, replaced.target);
    refusedAlike(run, `${name} has sha256 `);
    refusedAlike(run, 'was based on an archive with sha256');
  }, 300_000);

  it.each(['gz', 'gz-age'])(
    "the newest backup without its .sha256 sidecar, as 'get' fetches it (%s): accepted by verify and both restores, each saying the archive's own sha256 was not checked",
    async (label) => {
      const { b, target } = await copyOf(label, async (objects) => rm(`${objects.at(-1)}.sha256`));
      const run = await judge(b, target);
      expect(run.defects).toEqual([]);
      const unchecked = "NOT checked: the archive's own sha256 — its .sha256 sidecar is missing";
      expect(run.verify.exitCode, cliOutput(run.verify)).toBe(0);
      expect(run.verify.stdout).toContain(`stored digest  ${unchecked} (`);
      expect(run.verify.stdout, 'said once').not.toContain(`note: ${unchecked}`);
      for (const r of run.restores) {
        expect([r.mode, r.result.exitCode, r.same], cliOutput(r.result)).toEqual([r.mode, 0, true]);
        expect(cliOutput(r.result), r.mode).toContain(`Checked: every entry matched metadata.json (sha256 and size). ${unchecked}.`);
      }
    },
    300_000,
  );

  it.each([
    ['gz', -1],
    ['gz-chain', 0],
  ] as const)(
    'a .sha256 sidecar whose first line is no sha256 (%s, member %i): refused by verify and both restores alike as a damaged sidecar, not taken for a missing one',
    async (label, member) => {
      let named = '';
      const { b, target } = await copyOf(label, async (objects) => {
        const object = objects.at(member)!;
        named = path.basename(object);
        await writeFile(`${object}.sha256`, `not-a-digest  ${named}\n`);
      });
      const prefix = member === -1 ? '' : `${named}: `;
      refusedAlike(
        await judge(b, target),
        `${prefix}its .sha256 sidecar is damaged: ${named}.sha256 records no sha256 of the archive (its first line is "not-a-digest  ${named}")`,
      );
    },
    300_000,
  );

  it('metadata.json moved first (every other entry after it): verify and both restores name the first entry after it, verify once; metadata.json dropped: one wording', async () => {
    let first = '';
    const moved = await copyOf('gz', async ([object]) => {
      await rewriteMembers({ object: object!, format: 'tar.gz' }, ({ members }) => {
        const i = members.findIndex((m) => m.name === 'metadata.json');
        members.unshift(...members.splice(i, 1));
        first = members[1]!.name.replace(/\/+$/, '');
        return 'metadata.json moved first';
      });
    });
    const trailing = `'${first}' comes after metadata.json, which must be the last entry`;
    const run = await judge(moved.b, moved.target);
    refusedAlike(run, trailing);
    expect(run.verify.stdout.split('comes after metadata.json').length - 1, run.verify.stdout).toBe(1);
    const dropped = await copyOf('gz', async ([object]) => {
      await rewriteMembers({ object: object!, format: 'tar.gz' }, ({ members }) => {
        members.splice(
          members.findIndex((m) => m.name === 'metadata.json'),
          1,
        );
        return 'metadata.json dropped';
      });
    });
    refusedAlike(await judge(dropped.b, dropped.target), 'the archive has no metadata.json (truncated, or not made by lsbackup)');
  }, 300_000);

  it.each([
    ['gz-chain', 0],
    ['zst-age-chain', 1],
    ['gz-signed-chain', 0],
  ] as const)(
    "%s: the newest backup swapped with member %i of its chain, sidecars and all: accepted by verify and both restores, each saying which backup it was made as, and that one's data restored",
    async (label, member) => {
      let older = '';
      const { b, target } = await copyOf(label, async (objects) => {
        const [a, z] = [objects[member]!, objects.at(-1)!];
        older = path.basename(a);
        await swapBackups(path.dirname(a), path.basename(a), path.basename(z));
      });
      const run = await judge(b, target);
      expect(run.defects).toEqual([]);
      const words = `this archive was made as ${madeAsLabel(older)} (started `;
      expect(run.verify.exitCode, cliOutput(run.verify)).toBe(0);
      expect(run.verify.stdout).toContain(`warning: ${words}`);
      for (const r of run.restores) {
        expect([r.mode, r.result.exitCode, r.same], cliOutput(r.result)).toEqual([r.mode, 0, true]);
        expect(r.result.stderr, r.mode).toMatch(new RegExp(`warning: ${words.replace(/[()]/g, '\\$&')}[^)]+\\): restoring that backup's data`));
      }
      expect(b.expectedOf[member], 'another tree than the newest').not.toBe(b.expected);
    },
    300_000,
  );

  it('an encrypted archive re-encrypted with bytes appended inside, its .sha256 sidecar left as stored: refused by verify and both restores alike, in the same words', async () => {
    let [stored, recorded] = ['', ''];
    const { b, target } = await copyOf('gz-age', async ([object]) => {
      const plain = (await execa('age', ['-d', '-i', age.identity, object!], { encoding: 'buffer' })).stdout;
      const sealed = await execa('age', ['-r', age.recipient], { input: Buffer.concat([Buffer.from(plain), Buffer.alloc(1024)]), encoding: 'buffer' });
      await writeFile(object!, sealed.stdout);
      stored = createHash('sha256').update(sealed.stdout).digest('hex');
      recorded = (await readFile(`${object}.sha256`, 'utf8')).split(' ')[0]!;
    });
    // One wording for both: the stored bytes are the ciphertext.
    refusedAlike(await judge(b, target), `the stored archive has sha256 ${stored}, its .sha256 sidecar says ${recorded}`);
  }, 300_000);
});
