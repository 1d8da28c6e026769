/**
 * runBackup in-process (unit tier): hosts are scripted fakes (test/helpers/fake-cluster.ts), the
 * targets real local directories (one made to fail its commit). Covered here: the status rollup,
 * a copy missing from one of two targets, the sidecars, age encryption. The same paths with real
 * hosts and targets: test/cli/apply.int.test.ts, test/cli/round-trip-targets.int.test.ts,
 * test/faults/backup-faults.int.test.ts, test/faults/host-faults.int.test.ts,
 * test/faults/encrypted-integrity.int.test.ts, test/signing/signed-backups.int.test.ts.
 */
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalTarget } from '../../targets/local.js';
import { LsError } from '../../engine/errors.js';
import { backUp, healthy, RECIPES, scratch, targetThatCannotStore, type BackupExtras, type HostScript } from '../helpers/fake-cluster.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let s: Awaited<ReturnType<typeof scratch>>;
beforeEach(async () => {
  s = await scratch('lsb-runbackup-');
});
afterEach(async () => {
  await s.cleanup();
});

const backup = (script: HostScript, extra: BackupExtras = {}) => backUp(s, script, extra);

/** The archive's entries, extracted by GNU tar. */
async function extract(archive: string | Buffer): Promise<(p: string) => Promise<string>> {
  const out = await s.subdir(`x-${Math.random().toString(36).slice(2)}`);
  execFileSync('tar', ['-xzf', typeof archive === 'string' ? archive : '-', '-C', out], typeof archive === 'string' ? {} : { input: archive });
  return (p) => readFile(path.join(out, p), 'utf8');
}

describe('runBackup: the status rollup', () => {
  it("every component on every host: success, exit 0, each host's output in the archive", async () => {
    const { result, targetDir } = await backup(healthy());
    expect(result).toMatchObject({ status: 'success', exitCode: 0 });
    expect(result.metadata!.components.map((c) => [c.name, c.status])).toEqual([
      ['alpha', 'success'],
      ['beta', 'success'],
    ]);
    const read = await extract(path.join(targetDir, result.archive!));
    expect(await read('alpha/db-2/alpha.sql')).toBe('alpha on db-2\n');
    expect(await read('beta/db-1/beta.txt')).toBe('beta on db-1\n');
  });

  it.each<[string, Parameters<typeof healthy>[0], string[], Record<string, string>, 'success' | 'partial' | 'failed']>([
    [
      'a dump fails on one host: that component partial, the run partial',
      { 'dump-alpha': (h) => (h === 'db-2' ? { exitCode: 3, stderr: 'disk gone' } : undefined) },
      [],
      { alpha: 'partial', beta: 'success' },
      'partial',
    ],
    ['a component fails on every host: it failed, the run partial', { 'dump-alpha': { exitCode: 1 } }, [], { alpha: 'failed', beta: 'success' }, 'partial'],
    [
      'an optional component on no host: skipped (not installed), the run a success',
      { 'has-beta': { exitCode: 1 } },
      [],
      { alpha: 'success', beta: 'skipped' },
      'success',
    ],
    [
      'a required component missing on a host of its group: partial, the run partial',
      { 'has-alpha': (h) => (h === 'db-1' ? { exitCode: 1 } : undefined) },
      [],
      { alpha: 'partial', beta: 'success' },
      'partial',
    ],
    ['a host that cannot be reached: every component partial, the run partial', {}, ['db-2'], { alpha: 'partial', beta: 'partial' }, 'partial'],
  ])('%s', async (_what, overrides, unreachable, components, run) => {
    const { result, targetDir } = await backup(healthy(overrides), { unreachable });
    expect(Object.fromEntries(result.metadata!.components.map((c) => [c.name, c.status]))).toEqual(components);
    expect(result.status).toBe(run);
    expect(result.exitCode).toBe(run === 'success' ? 0 : 2);
    // A partial backup is kept, and says so in its metadata.
    expect(await s.names(targetDir)).toContain(result.archive);
    expect(result.metadata!.status).toBe(run);
  });

  it('says why a host failed: the step, its exit code and stderr; a missing required component names the detect', async () => {
    const { result } = await backup(
      healthy({
        'dump-alpha': (h) => (h === 'db-2' ? { exitCode: 3, stderr: 'disk gone' } : undefined),
        'has-beta': (h) => (h === 'db-1' ? { exitCode: 1 } : undefined),
      }),
    );
    const host = (c: string, h: string) => result.metadata!.components.find((x) => x.name === c)!.hosts.find((x) => x.name === h)!;
    expect(host('alpha', 'db-2')).toMatchObject({ status: 'failed' });
    expect(host('alpha', 'db-2').error).toMatch(/dump.*(3|disk gone)/);
    expect(host('beta', 'db-1')).toMatchObject({ status: 'skipped' });
    expect(host('beta', 'db-1').note).toMatch(/^not installed/);
  });

  it('nothing usable (every dump fails): failed, exit 1, nothing stored, post-run summary still emitted', async () => {
    const { result, targetDir, events } = await backup(healthy({ 'dump-alpha': { exitCode: 1 }, 'dump-beta': { exitCode: 1 } }));
    expect(result).toMatchObject({ status: 'failed', exitCode: 1, copies: [] });
    expect(await s.names(targetDir)).toEqual([]); // no archive, no sidecar, no temp file
    const end = events.find((e) => e.type === 'run.end');
    expect(end).toMatchObject({ status: 'failed', exitCode: 1 });
  });

  it('no component found on any host: failed, exit 1, and a warning says nothing was backed up', async () => {
    const { result, targetDir, warnings } = await backup(healthy({ 'has-beta': { exitCode: 1 } }), { recipeSpecs: { beta: RECIPES.beta } });
    expect(result).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(warnings()).toContain('no component was found on any host: nothing was backed up');
    expect(await s.names(targetDir)).toEqual([]);
  });
});

describe('runBackup: two targets', () => {
  it('the same archive and sidecars in both', async () => {
    const [a, b] = [await s.subdir('a'), await s.subdir('b')];
    const { result } = await backup(healthy(), { targets: [createLocalTarget(a), createLocalTarget(b)] });
    expect(result).toMatchObject({ status: 'success', exitCode: 0 });
    expect(result.copies.map((c) => c.error)).toEqual([undefined, undefined]);
    expect(await s.names(b)).toEqual(await s.names(a));
    expect(await readFile(path.join(b, result.archive!))).toEqual(await readFile(path.join(a, result.archive!)));
  });

  it('a copy missing from one of them: partial (exit 2), the other copy kept, a warning names the target and why, nothing left in the failed one', async () => {
    const [a, b] = [await s.subdir('a'), await s.subdir('b')];
    const failing = targetThatCannotStore(createLocalTarget(b), 'quota exceeded (scripted)');
    const { result, warnings } = await backup(healthy(), { targets: [createLocalTarget(a), failing] });
    expect(result).toMatchObject({ status: 'partial', exitCode: 2 });
    expect(result.copies[0]).toEqual({ target: a, name: result.archive });
    expect(result.copies[1]).toEqual({ target: b, error: 'quota exceeded (scripted)' });
    expect(warnings()).toContain(`target ${b}: the copy was not stored: quota exceeded (scripted)`);
    expect(await s.names(a)).toEqual([result.archive, `${result.archive}.metadata.json`, `${result.archive}.sha256`].sort());
    expect(await s.names(b)).toEqual([]);
  });

  it('no copy stored anywhere: the run fails with the target error', async () => {
    const [a, b] = [await s.subdir('a'), await s.subdir('b')];
    const attempt = backup(healthy(), {
      targets: [targetThatCannotStore(createLocalTarget(a), 'full A'), targetThatCannotStore(createLocalTarget(b), 'full B')],
    });
    await expect(attempt).rejects.toThrow(/full A.*full B/);
    expect([...(await s.names(a)), ...(await s.names(b))]).toEqual([]);
  });
});

describe('runBackup: a target plugin error', () => {
  it("names its target once in the run's error (was `Target t: Target t: could not store …`), of one target or two", async () => {
    const [a, b] = [await s.subdir('a'), await s.subdir('b')];
    const pluginError = (uri: string) => new LsError('ETARGET', { target: uri, message: 'could not store it: ENAMETOOLONG' });
    const one = backup(healthy(), { targets: [targetThatCannotStore(createLocalTarget(a), pluginError(a))] });
    await expect(one).rejects.toThrow(new RegExp(`^Target ${a}: could not store it: ENAMETOOLONG$`));
    const two = backup(healthy(), {
      targets: [targetThatCannotStore(createLocalTarget(a), pluginError(a)), targetThatCannotStore(createLocalTarget(b), pluginError(b))],
    });
    await expect(two).rejects.toThrow(new RegExp(`^Target ${a}, ${b}: ${a}: could not store it: ENAMETOOLONG; ${b}: could not store it: ENAMETOOLONG$`));
  });
});

describe('runBackup: sidecars', () => {
  it(".sha256 is sha256sum -c's line for the stored bytes; .metadata.json is the metadata.json inside the archive", async () => {
    const { result, targetDir } = await backup(healthy());
    const name = result.archive!;
    expect(name).toMatch(/^lsbackup-c1-\d{8}T\d{6}Z\.tar\.gz$/);
    const stored = await readFile(path.join(targetDir, name));
    // Its second line holds the metadata sidecar to it (app/base-sidecar.ts).
    const sidecarBytes = await readFile(path.join(targetDir, `${name}.metadata.json`));
    expect(await readFile(path.join(targetDir, `${name}.sha256`), 'utf8')).toBe(
      `${sha256(stored)}  ${name}\n${sha256(sidecarBytes)}  ${name}.metadata.json\n# size ${stored.length} ${name}\n`,
    );
    expect(result).toMatchObject({ sha256: sha256(stored), bytes: stored.length });
    const sidecar = JSON.parse(await readFile(path.join(targetDir, `${name}.metadata.json`), 'utf8'));
    const inside = JSON.parse(await (await extract(stored))('metadata.json'));
    expect(sidecar).toEqual(inside);
    expect(sidecar).toMatchObject({ cluster: 'c1', status: 'success' });
    // Each entry's recorded digest is that of what the host printed.
    const dump = sidecar.entries.find((e: { path: string }) => e.path === 'alpha/db-1/alpha.sql');
    expect(dump).toMatchObject({ size: 'alpha on db-1\n'.length, sha256: sha256('alpha on db-1\n') });
  });

  it("signed: metadata.json.sig, in the archive and beside it, is the signer's signature of metadata.json's exact bytes", async () => {
    const signer = { fingerprint: 'SHA256:test', sign: (m: Buffer) => Buffer.from(`signed ${sha256(m)}\n`) };
    const { result, targetDir } = await backup(healthy(), { signer });
    const name = result.archive!;
    const read = await extract(path.join(targetDir, name));
    const expected = `signed ${sha256(await read('metadata.json'))}\n`;
    expect(await read('metadata.json.sig')).toBe(expected);
    expect(await readFile(path.join(targetDir, `${name}.metadata.json.sig`), 'utf8')).toBe(expected);
  });
});

describe('runBackup: encryption (age)', () => {
  async function decrypt(file: string, identity: string): Promise<Buffer> {
    const d = new Decrypter();
    d.addIdentity(identity);
    return Buffer.from(await d.decrypt(await readFile(file)));
  }

  it('stores <name>.age and .metadata.json.age that the identity decrypts; .sha256 is of the stored (encrypted) bytes', async () => {
    const identity = await generateIdentity();
    const { result, targetDir } = await backup(healthy(), { encryption: { recipients: [await identityToRecipient(identity)] } });
    const name = result.archive!;
    expect(name).toMatch(/\.tar\.gz\.age$/);
    expect(await s.names(targetDir)).toEqual([name, `${name}.metadata.json.age`, `${name}.sha256`].sort());
    const stored = await readFile(path.join(targetDir, name));
    expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    const sealed = await readFile(path.join(targetDir, `${name}.metadata.json.age`));
    expect(await readFile(path.join(targetDir, `${name}.sha256`), 'utf8')).toBe(
      `${sha256(stored)}  ${name}\n${sha256(sealed)}  ${name}.metadata.json.age\n# size ${stored.length} ${name}\n`,
    );
    const read = await extract(await decrypt(path.join(targetDir, name), identity));
    expect(await read('alpha/db-1/alpha.sql')).toBe('alpha on db-1\n');
    const metadata = JSON.parse((await decrypt(path.join(targetDir, `${name}.metadata.json.age`), identity)).toString());
    expect(metadata).toMatchObject({ cluster: 'c1', status: 'success' });
  });

  it('plainMetadata keeps the metadata sidecar readable; the archive is still encrypted', async () => {
    const identity = await generateIdentity();
    const { result, targetDir } = await backup(healthy(), { encryption: { recipients: [await identityToRecipient(identity)], plainMetadata: true } });
    const name = result.archive!;
    expect(await s.names(targetDir)).toEqual([name, `${name}.metadata.json`, `${name}.sha256`].sort());
    expect(JSON.parse(await readFile(path.join(targetDir, `${name}.metadata.json`), 'utf8'))).toMatchObject({ cluster: 'c1' });
    expect((await readFile(path.join(targetDir, name))).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
  });
});
