/**
 * The catalog commands (list, show, verify, get, prune) and encryption at rest, driven through
 * the built CLI against a local directory target, with the real `age` and `tar` tools.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { copyFile, open, readdir, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace, jsonEvent, jsonEvents } from '../helpers/cli.js';
import { mountTmpfs, optedOut } from '../helpers/prerequisites.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let recipes: string;
let keyFile: string;
let recipient: string;

beforeAll(async () => {
  ws = await workspace('lsb-catalog-');
  build = path.join(ws.dir, 'build');
  recipes = path.join(ws.dir, 'recipes');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('data/notes.txt', 'hello catalog\n'.repeat(100));
  // Incompressible, so a byte flipped in the middle of the archive lands inside this entry's body.
  await mkdir(path.join(ws.dir, 'data'), { recursive: true });
  await writeFile(path.join(ws.dir, 'data/random.bin'), randomBytes(512 * 1024));
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app, run: all }
vars:
  dir: ${ws.dir}/data
detect: test -d {{vars.dir}}
version: echo 2.1.0
backup:
  snapshot:
    - run: echo dump
      output: dump.txt
  collect:
    - path: "{{vars.dir}}"
`,
    ),
  );
  keyFile = path.join(ws.dir, 'key.txt');
  await execa('age-keygen', ['-o', keyFile]);
  recipient = (await execa('age-keygen', ['-y', keyFile])).stdout.trim();
});
afterAll(async () => ws.cleanup());

async function backup(target: string, ...extra: string[]): Promise<string> {
  const r = await runCli(['apply', recipes, '-b', build, '-t', target, '--json', ...extra]);
  expect(r.stderr).not.toMatch(/unexpected error/);
  expect(r.exitCode).toBe(0);
  const stored = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((e) => e.type === 'archive.stored');
  return stored.name as string;
}

const fresh = async (name: string) => {
  const dir = path.join(ws.dir, name);
  await rm(dir, { recursive: true, force: true });
  return dir;
};

describe.each(['tar.gz', 'tar.zst', 'zip'] as const)('catalog commands on a %s backup', (format) => {
  it('list, show, verify and get read it', async () => {
    const target = await fresh(`t-${format}`);
    const name = await backup(target, '-f', format);
    expect(name.endsWith(`.${format}`)).toBe(true);
    await writeFile(path.join(target, 'foreign.txt'), 'not a backup');

    const list = await runCli(['list', '-t', target, '--json']);
    expect(list.exitCode).toBe(0);
    const rows = jsonEvents(list.stdout, 'list.backup');
    expect(rows).toHaveLength(1); // foreign.txt and the sidecars are not backups
    expect(rows[0]).toMatchObject({ name, format, status: 'success', components: [{ name: 'app', status: 'success' }], encrypted: false });
    const table = await runCli(['list', '-t', target]);
    expect(table.stdout).toMatch(new RegExp(`${name.replaceAll('.', '\\.')}\\s+\\S+ \\S+\\s+[\\d.]+ KiB\\s+success\\s+app`));

    const show = await runCli(['show', name, '-t', target]);
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toMatch(/app\s+app@1\.0\.0\s+2\.1\.0\s+localhost\s+success\s+4\s/);
    const raw = jsonEvent<{ metadata: { entries: { path: string }[] } }>(
      (await runCli(['show', path.join(target, name), '--json'])).stdout,
      'show.backup',
    ).metadata;
    expect(raw.entries.map((e: { path: string }) => e.path)).toContain('app/localhost/dump.txt');

    const verify = await runCli(['verify', 'latest', '-t', target]);
    expect(verify.stdout).toContain(`${name}: OK`);
    expect(verify.stdout).toMatch(/entries\s+5 checked/);
    expect(verify.exitCode).toBe(0);

    const dest = path.join(ws.dir, `got-${format}`);
    await mkdir(dest, { recursive: true });
    const get = await runCli(['get', name, dest, '-t', target]);
    expect(get.exitCode).toBe(0);
    expect(await readdir(dest)).toEqual([name]); // no temp file left behind
    expect(await readFile(path.join(dest, name))).toEqual(await readFile(path.join(target, name)));
    // A second get to the same file refuses to overwrite it, named or in its directory.
    expect((await runCli(['get', name, path.join(dest, name), '-t', target])).exitCode).toBe(64);
    await writeFile(path.join(dest, name), 'another file of that name');
    const into = await runCli(['get', name, dest, '-t', target]);
    expect(into.exitCode).toBe(64);
    expect(into.stderr).toContain('already exists');
    expect(await readFile(path.join(dest, name), 'utf8')).toBe('another file of that name');
    expect(await readdir(dest)).toEqual([name]);
    // Into a directory that does not exist: was `unexpected error (please report): ENOENT … .lsbackup-tmp-…`.
    const nowhere = await runCli(['get', name, path.join(dest, 'nonexistent', 'x.tgz'), '-t', target]);
    expect(nowhere.exitCode, nowhere.stderr).toBe(64);
    expect(nowhere.stderr).toMatch(/destination .*nonexistent\/x\.tgz: directory .*nonexistent is not writable \(ENOENT\); create it or name another file/);
  });
});

describe('get', () => {
  it("into 'restore-me/' (README's example) writes restore-me/<name>, making the directory; never a file called restore-me", async () => {
    const target = await fresh('t-get-slash');
    const name = await backup(target);
    const dir = path.join(ws.dir, 'restore-me');
    const get = await runCli(['get', path.join(target, name), `${dir}/`]);
    expect(get.exitCode, cliOutput(get)).toBe(0);
    expect(get.stdout).toContain(path.join(dir, name));
    expect(await readdir(dir)).toEqual([name]);
    expect(await readFile(path.join(dir, name))).toEqual(await readFile(path.join(target, name)));
    // A file in the way of the directory: a usage error saying so, not an unexpected one.
    await writeFile(path.join(ws.dir, 'a-file'), 'x');
    const blocked = await runCli(['get', path.join(target, name), `${path.join(ws.dir, 'a-file')}/`]);
    expect(blocked.exitCode, cliOutput(blocked)).toBe(64);
    expect(blocked.stderr).toMatch(/destination .*a-file\/: cannot make that directory \(ENOTDIR\); name an existing directory or a file/);
  });
});

describe('get', () => {
  it('checks the stored bytes against the .sha256 sidecar while downloading: a damaged archive fails, and nothing is left at the destination', async () => {
    const target = await fresh('t-get-damaged');
    const name = await backup(target);
    await flipMiddleByte(path.join(target, name));
    const dest = path.join(ws.dir, 'got-damaged');
    await mkdir(dest, { recursive: true });

    const get = await runCli(['get', name, dest, '-t', target]);
    expect(get.exitCode, cliOutput(get)).toBe(1);
    expect(get.stderr).toMatch(/the downloaded bytes have sha256 [0-9a-f]{64}, its \.sha256 sidecar says [0-9a-f]{64}/);
    expect(get.stderr).toContain(`nothing was written to ${path.join(dest, name)}`);
    expect(await readdir(dest), 'neither the file nor its temp file').toEqual([]);
  });
});

/** One byte in the middle of a stored file flipped (bit rot): its .sha256 sidecar no longer matches. */
async function flipMiddleByte(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  const { size } = await handle.stat();
  const at = Math.floor(size / 2);
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, at);
  byte[0] = byte[0]! ^ 0xff;
  await handle.write(byte, 0, 1, at);
  await handle.close();
}

describe('verify', () => {
  it('fails naming the entry when one byte of the stored archive is flipped', async () => {
    const target = await fresh('t-corrupt');
    const name = await backup(target);
    await flipMiddleByte(path.join(target, name));

    const r = await runCli(['verify', name, '-t', target]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`${name}: FAILED`);
    expect(r.stdout).toContain(`entry 'app/localhost/files${ws.dir}/data/random.bin'`);
    expect(r.stdout).toMatch(/DOES NOT MATCH the \.sha256 sidecar/);
    // The read stopped at the damage, before metadata.json (the last entry): not a finding that it is missing.
    expect(r.stdout).not.toContain('metadata.json (truncated, or not made by lsbackup)');
  });

  it("fails when the metadata sidecar is another backup's (what list, prune, latest and --incremental read), plain or encrypted", async () => {
    for (const [label, suffix, extra] of [
      ['plain', '.metadata.json', []],
      ['encrypted', '.metadata.json.age', ['--encrypt-to', recipient]],
    ] as const) {
      const target = await fresh(`t-sidecar-${label}`);
      const older = await backup(target, ...extra);
      const newer = await backup(target, ...extra);
      const ids = await Promise.all(
        [older, newer].map(
          async (n) =>
            jsonEvent<{ metadata: { backupId: string } }>((await runCli(['show', n, '-t', target, '--identity', keyFile, '--json'])).stdout, 'show.backup')
              .metadata.backupId,
        ),
      );
      await copyFile(path.join(target, newer + suffix), path.join(target, older + suffix));
      const r = await runCli(['verify', older, '-t', target, '--identity', keyFile]);
      expect(r.exitCode, `${label}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stdout).toContain(`${older}: FAILED`);
      expect(r.stdout).toContain(`the ${older}${suffix} sidecar is not this archive's metadata.json (backup ${ids[1]}; the archive is backup ${ids[0]})`);
      const untouched = await runCli(['verify', newer, '-t', target, '--identity', keyFile]);
      expect(untouched.exitCode, untouched.stdout).toBe(0);
    }
  });

  it('a file collected through a link another collect step stored is left out, its step failed: the stored backup verifies and restores', async () => {
    // data/current -> releases/v2 (a release link, as /opt/kafka is), collected whole and through the link.
    await ws.write('linked/releases/v2/app.conf', 'v2\n');
    await ws.write('linked/data/notes.txt', 'notes\n');
    await symlink('../releases/v2', path.join(ws.dir, 'linked/data/current'));
    const linkedRecipes = path.dirname(
      await ws.write(
        'linked-recipes/app.yaml',
        recipeYaml(
          'app',
          `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${ws.dir}/linked/data\n    - path: ${ws.dir}/linked/data/current/app.conf\n`,
        ),
      ),
    );
    await ws.write('linked-recipes/notes.yaml', recipeYaml('notes', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${ws.dir}/linked/releases\n`));
    const target = await fresh('t-through-link');
    const r = await runCli(['apply', linkedRecipes, '-b', build, '-t', target, '--json']);
    // Restore would refuse a backup holding the file "inside" the stored link: it is not stored,
    // and the step that sent it fails (partial), saying why and what to collect instead.
    expect(r.exitCode, r.stderr).toBe(2);
    const through = `'app/localhost/files${ws.dir}/linked/data/current/app.conf' would be written through the symbolic link 'app/localhost/files${ws.dir}/linked/data/current' (collect the link's target, not a path through the link)`;
    expect(r.stdout).toContain(through);
    const name = jsonEvent<{ name: string }>(r.stdout, 'archive.stored').name;

    const verify = await runCli(['verify', name, '-t', target]);
    expect(verify.exitCode, verify.stdout).toBe(0);
    const restore = await runCli(['restore', name, '-t', target, '-b', build, '--recipes', linkedRecipes, '--dry-run']);
    expect(restore.exitCode, restore.stderr).toBe(0);
  });

  it('rejects a name that is not a backup and a backup that does not exist', async () => {
    const target = await fresh('t-missing');
    await backup(target);
    expect((await runCli(['verify', 'foreign.txt', '-t', target])).exitCode).toBe(64);
    const r = await runCli(['verify', 'lsbackup-x-20200101T000000Z.tar.gz', '-t', target]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('has no backup named lsbackup-x-20200101T000000Z.tar.gz');
  });
});

describe('prune', () => {
  it('deletes what the policy does not keep, with its sidecars, and never touches foreign files', async () => {
    const target = await fresh('t-prune');
    const first = await backup(target);
    // Backups of older runs: two days, one of them twice. Prune orders by the start time in the
    // metadata sidecar, so each copy's sidecar records the time its name says (as a real run's does).
    const older = ['lsbackup-build-20250101T010000Z.tar.gz', 'lsbackup-build-20250101T020000Z.tar.gz', 'lsbackup-build-20250102T000000Z.tar.gz'];
    const metadata = JSON.parse(await readFile(path.join(target, `${first}.metadata.json`), 'utf8'));
    for (const n of older) {
      for (const suffix of ['', '.sha256']) await copyFile(path.join(target, first + suffix), path.join(target, n + suffix));
      const startedAt = n.replace(/^lsbackup-build-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z.*$/, '$1-$2-$3T$4:$5:$6.000Z');
      await writeFile(path.join(target, `${n}.metadata.json`), JSON.stringify({ ...metadata, startedAt, finishedAt: startedAt }));
    }
    await writeFile(path.join(target, 'lsbackup-notes.txt'), 'foreign');

    const dry = await runCli(['prune', '-t', target, '--keep-last', '1', '--keep-daily', '2', '--dry-run']);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`keep\\s+${first.replaceAll('.', '\\.')}\\s+last #1, newest successful backup`));
    expect(dry.stdout).toMatch(/keep\s+lsbackup-build-20250102T000000Z\.tar\.gz\s+daily #1 \(2025-01-02\)/);
    expect(dry.stdout).toMatch(/keep\s+lsbackup-build-20250101T020000Z\.tar\.gz\s+daily #2 \(2025-01-01\)/);
    expect(dry.stdout).toMatch(/would delete\s+lsbackup-build-20250101T010000Z\.tar\.gz/);
    expect((await readdir(target)).length).toBe(13);

    const real = await runCli(['prune', '-t', target, '--keep-last', '1', '--keep-daily', '2', '--json']);
    expect(jsonEvent(real.stdout, 'prune.result').remove).toEqual(['lsbackup-build-20250101T010000Z.tar.gz']);
    const left = await readdir(target);
    expect(left.filter((n) => n.startsWith('lsbackup-build-20250101T010000Z'))).toEqual([]);
    expect(left).toContain('lsbackup-notes.txt');
    expect(left).toHaveLength(10);
  });

  it('--keep-hourly, --keep-yearly and --keep-within, by the start times in the metadata (across an hour, a day and a year boundary)', async () => {
    const target = await fresh('t-prune-periods');
    const template = await backup(target);
    const metadata = JSON.parse(await readFile(path.join(target, `${template}.metadata.json`), 'utf8'));
    const at = ['2026-01-01T00:20:00Z', '2025-12-31T23:30:00Z', '2025-12-31T23:10:00Z', '2025-12-31T22:50:00Z', '2025-03-01T10:00:00Z', '2024-06-01T10:00:00Z'];
    const name = (iso: string) => `lsbackup-build-${iso.replace(/[-:]/g, '')}.tar.gz`;
    for (const startedAt of at) {
      for (const suffix of ['', '.sha256']) await copyFile(path.join(target, template + suffix), path.join(target, name(startedAt) + suffix));
      await writeFile(path.join(target, `${name(startedAt)}.metadata.json`), JSON.stringify({ ...metadata, startedAt, finishedAt: startedAt }));
    }
    // Only the crafted backups: the template's own time is today's.
    for (const suffix of ['', '.sha256', '.metadata.json']) await rm(path.join(target, template + suffix));
    const [f, e, d, c, b, a] = at.map(name);

    const periods = await runCli(['prune', '-t', target, '--keep-hourly', '2', '--keep-yearly', '3', '--dry-run', '--json']);
    expect(periods.exitCode).toBe(0);
    const decided = jsonEvent<{ keep: { name: string; reasons: string[] }[]; remove: string[] }>(periods.stdout, 'prune.result');
    expect(Object.fromEntries(decided.keep.map((k: { name: string; reasons: string[] }) => [k.name, k.reasons]))).toEqual({
      [f!]: ['hourly #1 (2026-01-01T00)', 'newest successful backup'],
      [e!]: ['hourly #2 (2025-12-31T23)'],
      // 2026 and 2025 were seen with their newest already kept: the yearly rule's first pick is 2024.
      [a!]: ['yearly #1 (2024)'],
    });
    expect([...decided.remove].sort()).toEqual([b, c, d].sort());

    const within = await runCli(['prune', '-t', target, '--keep-within', '2h', '--json']);
    expect(within.exitCode).toBe(0);
    // Two hours back from the newest backup (00:20), not from today: 22:50 is in, March and 2024 are out.
    expect([...jsonEvent<{ remove: string[] }>(within.stdout, 'prune.result').remove].sort()).toEqual([a, b].sort());
    expect((await readdir(target)).filter((n) => n.endsWith('.tar.gz')).sort()).toEqual([c, d, e, f].sort());

    const bad = await runCli(['prune', '-t', target, '--keep-within', '7days']);
    expect(bad.exitCode).toBe(64);
    expect(bad.stderr).toContain("option '--keep-within <interval>' argument '7days' is invalid. must be a number and a unit h, d, w, m or y, e.g. 7d");
  });

  it('on a read-only target: --dry-run says what it would do; a real prune says the file system is read-only and how to fix it', async (ctx) => {
    const target = await fresh('t-prune-ro');
    await mkdir(target);
    if (optedOut('tmpfs', 'a read-only target')) return ctx.skip();
    mountTmpfs(target, 'size=8m');
    try {
      const older = await backup(target);
      const newer = await backup(target);
      await execa('mount', ['-o', 'remount,ro', target]);
      const dry = await runCli(['prune', '-t', target, '--keep-last', '1', '--dry-run', '--json']);
      expect(dry.exitCode, cliOutput(dry)).toBe(0);
      const decided = jsonEvent<{ keep: { name: string }[]; remove: string[] }>(dry.stdout, 'prune.result');
      expect(decided.keep.map((k) => k.name)).toEqual([newer]);
      expect(decided.remove).toEqual([older]);
      const real = await runCli(['prune', '-t', target, '--keep-last', '1']);
      expect(real.exitCode, cliOutput(real)).toBe(1);
      expect(real.stderr).toContain(`${target} is on a file system mounted read-only: mount it read-write and run again`);
      expect(real.stderr).not.toContain('Free space');
    } finally {
      await execa('umount', [target]);
    }
  });

  it('needs a rule', async () => {
    const r = await runCli(['prune', '-t', await fresh('t-norule')]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('--keep-last');
  });
});

describe('encryption at rest (age)', () => {
  it('a backup encrypted by lsbackup is decrypted by the age CLI and extracts with tar', async () => {
    const target = await fresh('t-age');
    const name = await backup(target, '--encrypt-to', recipient);
    expect(name).toMatch(/\.tar\.gz\.age$/);
    const files = await readdir(target);
    expect(files.sort()).toEqual([name, `${name}.metadata.json.age`, `${name}.sha256`].sort());
    // Nothing readable at rest: not the hostnames, not the data.
    expect(await readFile(path.join(target, `${name}.metadata.json.age`), 'utf8')).not.toContain('localhost');
    const check = await execa('sha256sum', ['-c', `${name}.sha256`], { cwd: target });
    expect(check.stdout).toContain(': OK'); // the digest is of the stored (encrypted) bytes

    const plain = path.join(ws.dir, 'decrypted.tar.gz');
    await execa('age', ['-d', '-i', keyFile, '-o', plain, path.join(target, name)]);
    const dump = await execa('tar', ['xzOf', plain, 'app/localhost/dump.txt']);
    expect(dump.stdout).toBe('dump');

    const noKey = await runCli(['list', '-t', target, '--json']);
    expect(jsonEvents(noKey.stdout, 'list.backup')[0]).toMatchObject({ name, status: 'unknown', metadataNote: 'metadata encrypted (pass --identity)' });
    const withKey = await runCli(['list', '-t', target, '--json', '--identity', keyFile]);
    expect(jsonEvents(withKey.stdout, 'list.backup')[0]).toMatchObject({ name, status: 'success', encrypted: true });

    const verify = await runCli(['verify', name, '-t', target, '--identity', keyFile]);
    expect(verify.exitCode).toBe(0);
    expect(verify.stdout).toMatch(/entries\s+5 checked/);
    const show = await runCli(['show', name, '-t', target]);
    expect(show.exitCode).toBe(1);
    expect(show.stderr).toContain('pass --identity');

    const dest = path.join(ws.dir, 'got-age');
    await mkdir(dest);
    expect((await runCli(['get', name, dest, '-t', target, '--identity', keyFile])).exitCode).toBe(0);
    expect(await readdir(dest)).toEqual([name.replace(/\.age$/, '')]);
    expect(await readFile(path.join(dest, name.replace(/\.age$/, '')))).toEqual(await readFile(plain));
  });

  it('--plain-metadata keeps the metadata sidecar readable without the key', async () => {
    const target = await fresh('t-age-plain');
    const name = await backup(target, '--encrypt-to', recipient, '--plain-metadata');
    expect(await readdir(target)).toContain(`${name}.metadata.json`);
    const r = await runCli(['list', '-t', target, '--json']);
    expect(jsonEvents(r.stdout, 'list.backup')[0]).toMatchObject({ name, status: 'success', components: [{ name: 'app' }] });
  });

  it('reads an archive that the age CLI encrypted (verify --identity)', async () => {
    const target = await fresh('t-age-cli');
    const name = await backup(target, '-f', 'tar.zst');
    const sealed = `${name}.age`;
    await execa('age', ['-r', recipient, '-o', path.join(target, sealed), path.join(target, name)]);
    const digest = (await execa('sha256sum', [sealed], { cwd: target })).stdout;
    await writeFile(path.join(target, `${sealed}.sha256`), digest + '\n');
    const r = await runCli(['verify', sealed, '-t', target, '--identity', keyFile]);
    expect(r.stdout).toContain(`${sealed}: OK`);
    expect(r.exitCode).toBe(0);
  });

  it('config encryption: recipients and identityFile', async () => {
    const target = await fresh('t-age-config');
    const config = await ws.write(
      'enc.config.yaml',
      `build: ./build\nrecipes: [./recipes]\ntargets: [./t-age-config]\nencryption:\n  recipients: [${recipient}]\n  identityFile: ./key.txt\n`,
    );
    const r = await runCli(['apply', '-c', config]);
    expect(r.exitCode).toBe(0);
    const [name] = (await readdir(target)).filter((n) => n.endsWith('.tar.gz.age'));
    expect(name).toBeDefined();
    const v = await runCli(['verify', 'latest', '-c', config]);
    expect(v.stdout).toMatch(/entries\s+5 checked/);
  });
});
