/**
 * Signed backups end to end through the CLI, with keys ssh-keygen made in a temp dir: what apply
 * signs, `ssh-keygen -Y verify` accepts; and a recipe edited inside an archive, with every digest
 * recomputed (metadata.json and the .sha256 sidecar), is never run by `restore --yes`. The
 * edited recipe would touch a marker file; the real recipe's restore pre-step touches another.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, runCli, workspace } from '../helpers/cli.js';
import { gzipSync } from 'node:zlib';
import { markerRecipe, readEntries, tarBytes, withMetadata, type RawEntry } from '../faults/crafted-archive.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let recipes: string;
let key: string;
let allowed: string;
/** The real recipe's restore pre-step touches this. */
let marker: string;
/** The edited recipe's restore pre-step would touch this. */
let tamperedMarker: string;
let signedArchive: string;
let entries: RawEntry[];
let metadata: Record<string, unknown>;
let signature: Buffer;
let n = 0;

const appRecipe = (markerFile: string) => markerRecipe('1.0.0', markerFile);

async function keygen(name: string, extra: string[] = ['-N', '']): Promise<string> {
  const file = path.join(ws.dir, name);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-C', `${name}@test`, '-f', file, ...extra]);
  return file;
}

beforeAll(async () => {
  ws = await workspace('lsb-signed-');
  build = path.join(ws.dir, 'build');
  marker = path.join(ws.dir, 'real-recipe-ran');
  tamperedMarker = path.join(ws.dir, 'tampered-recipe-ran');
  await ws.write('build/inventory', `[app]\nlocalhost ansible_connection=local\n`);
  recipes = path.dirname(await ws.write('recipes/app.yaml', appRecipe(marker)));
  key = await keygen('signing');
  allowed = await ws.write('allowed_signers', `ops@example ${(await readFile(`${key}.pub`, 'utf8')).trim()}\n`);

  const target = path.join(ws.dir, 'backups');
  const r = await runCli(['apply', recipes, '-b', build, '-t', target, '--sign-key', key]);
  expect(r.exitCode, cliOutput(r)).toBe(0);
  const name = (await readdir(target)).find((f) => f.endsWith('.tar.gz'))!;
  signedArchive = path.join(target, name);
  const all = await readEntries(await readFile(signedArchive));
  const meta = all.find((e) => e.path === 'metadata.json')!;
  metadata = JSON.parse(meta.body!.toString('utf8'));
  signature = all.find((e) => e.path === 'metadata.json.sig')!.body!;
  entries = all.filter((e) => e.path !== 'metadata.json' && e.path !== 'metadata.json.sig');
}, 180_000);
afterAll(async () => ws?.cleanup());
beforeEach(async () => {
  await rm(marker, { force: true });
  await rm(tamperedMarker, { force: true });
});

const sshVerify = (sigFile: string, message: Buffer) =>
  execa('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'ops@example', '-n', 'lsbackup', '-s', sigFile], { input: message, reject: false });

/** The archive with its recipe replaced by one that touches `tamperedMarker`, every digest recomputed. */
function tampered(sig?: Buffer): Buffer {
  const evil = Buffer.from(appRecipe(tamperedMarker));
  const meta = structuredClone(metadata) as { components: { recipe: { digest: string } }[] };
  meta.components[0]!.recipe.digest = createHash('sha256').update(evil).digest('hex');
  const edited = entries.map((e) => (e.path.startsWith('lsbackup/recipes/') ? { ...e, body: evil } : e));
  return withMetadata(edited, meta, undefined, sig);
}

/** Stores `archive` in a fresh target with a matching .sha256 sidecar and restores it. */
async function restore(archive: Buffer, extra: string[]) {
  const dir = path.join(ws.dir, `copy${++n}`);
  await mkdir(dir);
  const name = 'lsbackup-build-20250101T000000Z.tar.gz';
  await writeFile(path.join(dir, name), archive);
  await writeFile(path.join(dir, `${name}.sha256`), `${createHash('sha256').update(archive).digest('hex')}  ${name}\n`);
  return runCli(['restore', path.join(dir, name), '-b', build, '--yes', ...extra], { timeoutMs: 120_000 });
}

describe('apply --sign-key', () => {
  it('signs metadata.json in a form ssh-keygen -Y verify accepts, in the archive and as a sidecar', async () => {
    const inArchive = path.join(ws.dir, 'entry.sig');
    await writeFile(inArchive, signature);
    const metadataBytes = (await readEntries(await readFile(signedArchive))).find((e) => e.path === 'metadata.json')!.body!;
    const ok = await sshVerify(inArchive, metadataBytes);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Good "lsbackup" signature for ops@example/);

    const sidecar = await sshVerify(`${signedArchive}.metadata.json.sig`, await readFile(`${signedArchive}.metadata.json`));
    expect(sidecar.exitCode, sidecar.stderr).toBe(0);
    expect((await sshVerify(inArchive, Buffer.concat([metadataBytes, Buffer.from(' ')]))).exitCode).not.toBe(0);
  });

  it('a passphrase-protected or missing key is refused before anything runs', async () => {
    const encrypted = await keygen('locked', ['-N', 'a passphrase']);
    const target = path.join(ws.dir, 'never');
    const backupRan = path.join(ws.dir, 'backup-ran');
    const probe = await ws.write('probe/app.yaml', appRecipe(marker).replace('run: echo hello', `run: touch ${backupRan}; echo hello`));
    for (const [file, message] of [
      [encrypted, /Signing: the signing key .*locked cannot be used: the key is protected by a passphrase/],
      [path.join(ws.dir, 'absent'), /Signing: cannot read the signing key .*absent: ENOENT/],
    ] as const) {
      const r = await runCli(['apply', probe, '-b', build, '-t', target, '--sign-key', file]);
      expect(r.exitCode, cliOutput(r)).toBe(78);
      expect(r.stderr).toMatch(message);
      expect(existsSync(backupRan)).toBe(false);
      expect(existsSync(target)).toBe(false);
    }
  });
});

describe('signing in the config', () => {
  it('run signs with signing.key; verify trusts signing.trusted (paths relative to the config)', async () => {
    const dir = path.join(ws.dir, 'configured');
    await mkdir(dir);
    await writeFile(path.join(dir, 'allowed'), await readFile(allowed));
    await execa('cp', [key, path.join(dir, 'key')]);
    const config = await ws.write(
      'configured/lsbackup.config.yaml',
      `apiVersion: lsbackup/v1\nkind: Config\nbuild: ${build}\nrecipes: [${recipes}]\ntargets: [./backups]\nsigning:\n  key: ./key\n  trusted: [./allowed]\n`,
    );
    const run = await runCli(['run', '--config', config]);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const verify = await runCli(['verify', 'latest', '--config', config]);
    expect(verify.exitCode, cliOutput(verify)).toBe(0);
    expect(verify.stdout).toMatch(/signed by ops@example \(SHA256:[^)]+\), trusted/);
    const names = await readdir(path.join(dir, 'backups'));
    expect(names.filter((f) => f.endsWith('.metadata.json.sig'))).toHaveLength(1);
  });

  it('an unknown key under signing is a config error naming file:line:col', async () => {
    const config = await ws.write('badconfig/lsbackup.config.yaml', `apiVersion: lsbackup/v1\nkind: Config\nsigning:\n  keyfile: ./key\n`);
    const r = await runCli(['verify', 'latest', '-t', ws.dir, '--config', config]);
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toMatch(/lsbackup\.config\.yaml:4:3: .*keyfile/);
  });
});

describe('verify', () => {
  it('reports signed-by with the trusted keys, untrusted without them, unsigned, and exits 1 for a BAD signature', async () => {
    const trusted = await runCli(['verify', signedArchive, '--trusted-keys', allowed]);
    expect(trusted.exitCode, cliOutput(trusted)).toBe(0);
    expect(trusted.stdout).toMatch(/signature +signed by ops@example \(SHA256:[^)]+\), trusted/);

    const untrusted = await runCli(['verify', signedArchive]);
    expect(untrusted.exitCode, cliOutput(untrusted)).toBe(0);
    expect(untrusted.stdout).toMatch(/signed by SHA256:\S+, a key not in the trusted keys/);

    const store = async (archive: Buffer) => {
      const dir = path.join(ws.dir, `verify${++n}`);
      await mkdir(dir);
      const file = path.join(dir, 'lsbackup-build-20250101T000000Z.tar.gz');
      await writeFile(file, archive);
      await writeFile(`${file}.sha256`, `${createHash('sha256').update(archive).digest('hex')}  x\n`);
      return file;
    };
    const unsigned = await runCli(['verify', await store(tampered()), '--trusted-keys', allowed]);
    expect(unsigned.exitCode, cliOutput(unsigned)).toBe(0);
    expect(unsigned.stdout).toMatch(/signature +not signed/);

    const bad = await runCli(['verify', await store(tampered(signature)), '--trusted-keys', allowed]);
    expect(bad.exitCode, cliOutput(bad)).toBe(1);
    expect(bad.stdout).toMatch(/BAD signature: .*does not match metadata\.json/);
  });
});

describe('verify the signature sidecar', () => {
  it("fails when the .metadata.json.sig sidecar is another backup's signature; passes with its own", async () => {
    const dir = path.join(ws.dir, 'sig-sidecar');
    await mkdir(dir);
    const name = path.basename(signedArchive);
    for (const suffix of ['', '.sha256', '.metadata.json', '.metadata.json.sig']) await copyFile(signedArchive + suffix, path.join(dir, name + suffix));
    const otherTarget = path.join(ws.dir, 'sig-other');
    const other = await runCli(['apply', recipes, '-b', build, '-t', otherTarget, '--sign-key', key]);
    expect(other.exitCode, cliOutput(other)).toBe(0);
    const otherName = (await readdir(otherTarget)).find((f) => f.endsWith('.tar.gz'))!;
    const own = await runCli(['verify', path.join(dir, name), '--trusted-keys', allowed]);
    expect(own.exitCode, cliOutput(own)).toBe(0);

    await copyFile(path.join(otherTarget, `${otherName}.metadata.json.sig`), path.join(dir, `${name}.metadata.json.sig`));
    const swapped = await runCli(['verify', path.join(dir, name), '--trusted-keys', allowed]);
    expect(swapped.exitCode, cliOutput(swapped)).toBe(1);
    expect(swapped.stdout).toContain(
      `the ${name}.metadata.json.sig sidecar is not this archive's signature (it differs from the archive's metadata.json.sig entry)`,
    );
  });
});

describe('restore never runs a recipe edited inside the archive', () => {
  it('unsigned, digests recomputed: the installed recipe runs, the plan shows the diff, the edited commands do not run', async () => {
    const r = await restore(tampered(), ['--recipes', recipes]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(existsSync(tamperedMarker), 'the tampered recipe ran').toBe(false);
    expect(existsSync(marker), 'the installed recipe ran').toBe(true);
    expect(r.stderr).toMatch(/not signed/);
    expect(r.stderr).toMatch(/the backup is not signed by a trusted key; --trust-carried-recipe runs the carried one/);
    expect(r.stderr).toMatch(new RegExp(`^ +- +- run: touch ${tamperedMarker}\n +\\+ +- run: touch ${marker}$`, 'm'));
  });

  it('unsigned, no such recipe installed: refused before any host is touched unless --trust-carried-recipe', async () => {
    const refused = await restore(tampered(), []);
    expect(refused.exitCode, cliOutput(refused)).toBe(1);
    expect(refused.stderr).toMatch(/refused before any host was touched: a recipe it carries would run unchecked/);
    expect(refused.stderr).toMatch(/no recipe 'app' is installed: pass --recipes .* or --trust-carried-recipe/);
    expect(existsSync(tamperedMarker)).toBe(false);
    expect(existsSync(marker)).toBe(false);

    // The operator's explicit choice: the carried recipe runs (here, the edited one).
    const trusting = await restore(tampered(), ['--trust-carried-recipe']);
    expect(trusting.exitCode, cliOutput(trusting)).toBe(0);
    expect(existsSync(tamperedMarker)).toBe(true);
  });

  it('signed, the old signature kept: BAD signature, refused before any host is touched', async () => {
    const r = await restore(tampered(signature), ['--recipes', recipes, '--trusted-keys', allowed]);
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toMatch(/refused before any host was touched: metadata\.json has a BAD signature/);
    expect(existsSync(tamperedMarker)).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it('re-signed with a key nobody trusts: the installed recipe runs', async () => {
    const mallory = await keygen('mallory');
    const evil = tampered();
    const meta = (await readEntries(evil)).find((e) => e.path === 'metadata.json')!.body!;
    const msg = path.join(ws.dir, 'evil-metadata.json');
    await writeFile(msg, meta);
    await execa('ssh-keygen', ['-Y', 'sign', '-f', mallory, '-n', 'lsbackup', msg]);
    const r = await restore(withResignature(await readEntries(evil), await readFile(`${msg}.sig`)), ['--recipes', recipes, '--trusted-keys', allowed]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stderr).toMatch(/a key not in the trusted keys/);
    expect(existsSync(tamperedMarker)).toBe(false);
    expect(existsSync(marker)).toBe(true);
  });

  it('signed by a trusted key and untouched: the carried recipe runs, even with another one installed', async () => {
    const other = await ws.write('other/app.yaml', appRecipe(tamperedMarker).replace('version: 1.0.0', 'version: 2.0.0'));
    const r = await restore(await readFile(signedArchive), ['--recipes', other, '--trusted-keys', allowed]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stderr).toMatch(/signed by ops@example \(SHA256:[^)]+\), trusted/);
    expect(existsSync(marker)).toBe(true);
    expect(existsSync(tamperedMarker)).toBe(false);
  });
});

/** The archive's entries rebuilt with `sig` before metadata.json (whose bytes stay as they are). */
function withResignature(all: RawEntry[], sig: Buffer): Buffer {
  const meta = all.find((e) => e.path === 'metadata.json')!;
  const rest = all.filter((e) => e !== meta && e.path !== 'metadata.json.sig');
  return gzipSync(tarBytes([...rest, { path: 'metadata.json.sig', type: 'File', body: sig }, meta]));
}
