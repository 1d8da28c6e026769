/**
 * Safe restore: crafted archives (see crafted-archive.ts) that differ from a valid backup only
 * by one attack are refused by `lsbackup restore` BEFORE any host is touched: the recipe's
 * restore pre-step touches a marker file, which must not exist afterwards. The untouched
 * rebuild of the same backup restores fine, so the builder itself is not what is refused.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, workspace } from '../helpers/cli.js';
import { gzipSync } from 'node:zlib';
import { markerRecipe as recipe, readEntries, tarBytes, withMetadata, type RawEntry } from './crafted-archive.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let marker: string;
let entries: RawEntry[];
let metadata: Record<string, unknown>;
let n = 0;

const HOST = 'localhost';

beforeAll(async () => {
  ws = await workspace('lsb-faults-restore-');
  build = path.join(ws.dir, 'build');
  marker = path.join(ws.dir, 'restore-pre-ran');
  await ws.write('build/inventory', `[app]\n${HOST} ansible_connection=local\n`);
  await ws.write('recipes/app.yaml', recipe('1.0.0', marker));
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', build, '-t', path.join(ws.dir, 'backups')]);
  expect(r.exitCode, r.stderr).toBe(0);
  const name = (await readdir(path.join(ws.dir, 'backups'))).find((f) => f.endsWith('.tar.gz'))!;
  const all = await readEntries(await readFile(path.join(ws.dir, 'backups', name)));
  metadata = JSON.parse(all.find((e) => e.path === 'metadata.json')!.body!.toString('utf8'));
  entries = all.filter((e) => e.path !== 'metadata.json');
}, 120_000);
afterAll(async () => ws?.cleanup());
beforeEach(async () => rm(marker, { force: true }));

/**
 * Writes a crafted archive to a fresh directory and restores it. The crafted archives are not
 * signed: --trust-carried-recipe lets their carried recipe run as a signed one would, so each
 * attack is refused by the archive checks themselves (test/signing covers unsigned archives).
 */
async function restore(archive: Buffer, extra: string[] = [], sidecar?: string) {
  const dir = path.join(ws.dir, `crafted${++n}`);
  await mkdir(dir);
  const file = path.join(dir, 'lsbackup-build-20250101T000000Z.tar.gz');
  await writeFile(file, archive);
  if (sidecar) await writeFile(`${file}.sha256`, sidecar);
  return runCli(['restore', file, '-b', build, '--yes', '--trust-carried-recipe', ...extra], { timeoutMs: 120_000 });
}

const file = (p: string, body = 'x\n'): RawEntry => ({ path: p, type: 'File', body: Buffer.from(body) });
const files = `app/${HOST}/files`;
/** The record of the collected file `rel` (under `files`) in a metadata.json being tampered with. */
const record = (records: Record<string, unknown>[], rel: string) => records.find((x) => x.path === `${files}/${rel}`)!;

describe('restore refuses crafted archives before touching any host', () => {
  it('the untouched rebuild restores (the builder is sound)', async () => {
    const r = await restore(withMetadata(entries, metadata));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });

  const attacks: [string, () => Buffer, RegExp][] = [
    ['a ".." path', () => withMetadata([...entries, file(`app/${HOST}/../../../../tmp/lsb-evil`)], metadata), /unsafe entry path .*\.\./],
    ['an absolute path', () => withMetadata([...entries, file('/tmp/lsb-evil-abs')], metadata), /unsafe entry path '\/tmp\/lsb-evil-abs'/],
    [
      'a hardlink escaping its directory',
      () => withMetadata([...entries, { path: `${files}/etc/h`, type: 'Link', linkpath: 'other/host9/files/etc/shadow' }], metadata),
      /link '.*etc\/h' -> 'other\/host9\/files\/etc\/shadow' escapes/,
    ],
    [
      'an entry written through a symlink',
      () => withMetadata([...entries, { path: `${files}/d`, type: 'SymbolicLink', linkpath: '/' }, file(`${files}/d/etc/cron.d/evil`)], metadata),
      /would be written through the symbolic link/,
    ],
    [
      'a device file',
      () => withMetadata([...entries, { path: `${files}/dev/evil`, type: 'CharacterDevice' }], metadata),
      /special file, which lsbackup never writes: .*dev\/evil \(CharacterDevice\)/,
    ],
    ['a FIFO', () => withMetadata([...entries, { path: `${files}/run/fifo`, type: 'FIFO' }], metadata), /special file.*\(FIFO\)/],
    ['a duplicate entry', () => withMetadata([...entries, file(`app/${HOST}/hello.txt`, 'hello\n')], metadata), /duplicate entry 'app\/localhost\/hello.txt'/],
    [
      'a body whose sha256 differs from metadata.json',
      () =>
        withMetadata(entries, metadata, (records) => {
          const r = records.find((x) => x.path === `app/${HOST}/hello.txt`)!;
          r.sha256 = '0'.repeat(64);
        }),
      /entry 'app\/localhost\/hello.txt' is corrupt: its sha256 differs/,
    ],
    // A header restore would follow but metadata.json (what the sha256 and a signature cover) does not say.
    [
      'a mode that differs from metadata.json (a private key world-readable in the header only)',
      () =>
        withMetadata(
          [...entries, { ...file(`${files}/etc/ssl/server.key`), mode: 0o644 }],
          metadata,
          (records) => void (record(records, 'etc/ssl/server.key').mode = 0o600),
        ),
      /entry '.*etc\/ssl\/server\.key' has mode 644 in the archive, metadata\.json says 600 \(tampered archive\?\)/,
    ],
    [
      'a symlink where metadata.json lists a directory',
      () =>
        withMetadata([...entries, { path: `${files}/etc/cron.d`, type: 'SymbolicLink', linkpath: '../var' }], metadata, (records) => {
          const r = record(records, 'etc/cron.d');
          Object.assign(r, { type: 'directory', mode: 0o777 });
          delete r.linkpath;
        }),
      /entry '.*etc\/cron\.d' is a symlink in the archive, metadata\.json says a directory/,
    ],
    [
      'a symlink whose target differs from metadata.json',
      () =>
        withMetadata([...entries, { path: `${files}/etc/hosts`, type: 'SymbolicLink', linkpath: 'shadow' }], metadata, (records) => {
          record(records, 'etc/hosts').linkpath = 'hosts.real';
        }),
      /entry '.*etc\/hosts' links to 'shadow' in the archive, metadata\.json says 'hosts\.real'/,
    ],
    [
      'an entry missing from metadata.json',
      () =>
        withMetadata(entries, metadata, (records) =>
          records.splice(
            records.findIndex((x) => x.path === `app/${HOST}/hello.txt`),
            1,
          ),
        ),
      /entry 'app\/localhost\/hello.txt' is not listed in metadata.json/,
    ],
    [
      'an entry listed but missing',
      () =>
        withMetadata(entries, metadata, (records) =>
          records.push({ path: 'app/localhost/gone.txt', type: 'file', size: 1, mode: 384, mtime: '2025-01-01T00:00:00.000Z' }),
        ),
      /'app\/localhost\/gone.txt' is listed in metadata.json but missing/,
    ],
    [
      'a metadata.json without an entries list',
      () => gzipSync(tarBytes([...entries, { path: 'metadata.json', type: 'File', body: Buffer.from(JSON.stringify({ ...metadata, entries: 'none' })) }])),
      /metadata\.json is not lsbackup metadata this version can read:\n {2}metadata\.json: 'entries' must be an array/,
    ],
    ['an empty file', () => withMetadata(entries, metadata).subarray(0, 0), /damaged or truncated at its start/],
    ['an archive cut after its last data entry (no metadata.json)', () => gzipSync(tarBytes(entries)), /has no metadata.json/],
  ];
  for (const [what, build_, message] of attacks) {
    it(`refuses ${what}`, async () => {
      const r = await restore(build_());
      expect(r.exitCode, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/unexpected error/);
      expect(existsSync(marker), 'the restore pre-step ran').toBe(false);
    });
  }

  it('verify, too, fails a backup whose header gives another mode than metadata.json (and passes the untouched rebuild)', async () => {
    const verify = async (archive: Buffer) => {
      const dir = path.join(ws.dir, `crafted${++n}`);
      await mkdir(dir);
      const name = 'lsbackup-build-20250101T000000Z.tar.gz';
      await writeFile(path.join(dir, name), archive);
      await writeFile(path.join(dir, `${name}.sha256`), `${createHash('sha256').update(archive).digest('hex')}  ${name}\n`);
      return runCli(['verify', path.join(dir, name)]);
    };
    const key = { ...file(`${files}/etc/ssl/server.key`), mode: 0o600 };
    const untouched = await verify(withMetadata([...entries, key], metadata));
    expect(untouched.exitCode, untouched.stderr).toBe(0);
    const readable = await verify(
      withMetadata([...entries, { ...key, mode: 0o644 }], metadata, (records) => void (record(records, 'etc/ssl/server.key').mode = 0o600)),
    );
    expect(readable.exitCode, readable.stdout + readable.stderr).toBe(1);
    expect(readable.stdout + readable.stderr).toMatch(/etc\/ssl\/server\.key' has mode 644 in the archive, metadata\.json says 600/);
  });

  it('refuses an archive whose bytes differ from its .sha256 sidecar', async () => {
    const r = await restore(withMetadata(entries, metadata), [], `${'a'.repeat(64)}  x.tar.gz\n`);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/the stored archive has sha256 [0-9a-f]{64}, its \.sha256 sidecar says a{64}/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a carried recipe that does not match its recorded digest (runs neither recipe)', async () => {
    const other = path.join(ws.dir, 'tampered-recipe-ran');
    const tampered = entries.map((e) => (e.path.startsWith('lsbackup/recipes/') ? { ...e, body: Buffer.from(recipe('1.0.0', other)) } : e));
    const r = await restore(withMetadata(tampered, metadata));
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/does not match the digest recorded for component app \(tampered\?\)/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(other)).toBe(false);
  });
});

describe('restore runs the recipe version recorded in the backup', () => {
  it('ignores a newer installed recipe unless --allow-recipe-upgrade is given', async () => {
    const v2marker = path.join(ws.dir, 'v2-ran');
    const installed = await ws.write('installed/app.yaml', recipe('2.0.0', v2marker));
    const archive = withMetadata(entries, metadata);

    const recorded = await restore(archive, ['--recipes', installed]);
    expect(recorded.exitCode, recorded.stderr).toBe(0);
    expect(existsSync(marker)).toBe(true);
    expect(existsSync(v2marker)).toBe(false);

    await rm(marker, { force: true });
    const upgraded = await restore(archive, ['--recipes', installed, '--allow-recipe-upgrade']);
    expect(upgraded.exitCode, upgraded.stderr).toBe(0);
    expect(upgraded.stderr).toMatch(/replacing app@1\.0\.0: --allow-recipe-upgrade/);
    expect(existsSync(v2marker)).toBe(true);
    expect(existsSync(marker)).toBe(false);
    await rm(v2marker, { force: true });
  });

  it('a backup that does not carry its recipe is not restored with another one without the flag', async () => {
    const r = await restore(
      withMetadata(
        entries.filter((e) => !e.path.startsWith('lsbackup/recipes/')),
        metadata,
      ),
    );
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/does not carry recipe app@1\.0\.0; pass --allow-recipe-upgrade/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('restore detects damaged archives and names the entry', () => {
  // A body of random bytes does not compress, so cutting the file in half lands inside it.
  const big: RawEntry = { path: `app/${HOST}/big.bin`, type: 'File', body: Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 2654435761) >>> 24)) };

  it('a truncated archive', async () => {
    const whole = withMetadata([...entries, big], metadata);
    const r = await restore(whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/damaged or truncated while reading entry 'app\/localhost\/big\.bin'/);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(existsSync(marker)).toBe(false);
  });

  it('an archive with a byte flipped inside the compressed stream', async () => {
    const whole = Buffer.from(withMetadata([...entries, big], metadata));
    whole[Math.floor(whole.length / 2)]! ^= 0xff;
    const r = await restore(whole);
    expect(r.exitCode).not.toBe(0);
    // gzip's CRC or the entry's sha256 catches it; either way the entry is named.
    expect(r.stderr).toMatch(/app\/localhost\/big\.bin/);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(existsSync(marker)).toBe(false);
  });
});
