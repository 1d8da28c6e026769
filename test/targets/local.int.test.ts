import { execFileSync } from 'node:child_process';
import { mountTmpfs, optedOut } from '../helpers/prerequisites.js';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalTarget } from '../../targets/local.js';
import { createNfsTarget } from '../../targets/nfs.js';
import { tempDir } from '../archive/helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('lsb-target-');
});
afterEach(async () => {
  await dir.cleanup();
});

async function store(target: ReturnType<typeof createLocalTarget>, name: string, body: string, avoidCollision = true) {
  const upload = await target.put(name, { avoidCollision });
  await pipeline(Readable.from([Buffer.from(body)]), upload.stream);
  return upload.commit();
}

describe('local target', () => {
  it('publishes 0600 files, adds _1 on a second commit of the same name, lists without temp files', async () => {
    const target = createLocalTarget(`file://${dir.path}/backups`);
    const first = await store(target, 'lsbackup-c-20260101T000000Z.tar.gz', 'one');
    const second = await store(target, 'lsbackup-c-20260101T000000Z.tar.gz', 'two');
    expect(first.name).toBe('lsbackup-c-20260101T000000Z.tar.gz');
    expect(second.name).toBe('lsbackup-c-20260101T000000Z_1.tar.gz');
    expect(await readFile(join(dir.path, 'backups', second.name), 'utf8')).toBe('two');
    expect((await stat(join(dir.path, 'backups', first.name))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir.path, 'backups'))).mode & 0o777).toBe(0o700);
    const pending = await target.put('other.zip'); // a temp file in progress is not listed
    expect((await target.list()).map((o) => o.name)).toEqual([first.name, second.name]);
    await pending.abort();
    expect(await readFile(await streamToFile(await target.get(first.name)), 'utf8')).toBe('one');
  });

  it('refuses to overwrite without avoidCollision and leaves no temp file', async () => {
    const target = createLocalTarget(dir.path);
    await store(target, 'b.tar.gz', 'one');
    await expect(store(target, 'b.tar.gz', 'two', false)).rejects.toMatchObject({ code: 'ETARGET' });
    expect(await readdir(dir.path)).toEqual(['b.tar.gz']);
    expect(await readFile(join(dir.path, 'b.tar.gz'), 'utf8')).toBe('one');
  });

  it('publishes sidecars with the archive; a name whose sidecar is taken is skipped and the stray sidecar left as it was', async () => {
    const target = createLocalTarget(dir.path);
    // A sidecar left without its archive (e.g. an interrupted prune) still holds its name.
    await writeFile(join(dir.path, 'c.tar.gz.sha256'), 'stray\n');
    const upload = await target.put('c.tar.gz', { avoidCollision: true });
    await pipeline(Readable.from([Buffer.from('archive')]), upload.stream);
    const sidecars = [{ suffix: '.sha256', content: (name: string) => Readable.from([`digest  ${name}\n`]) }];
    expect((await upload.commit(sidecars)).name).toBe('c_1.tar.gz');
    expect((await readdir(dir.path)).sort()).toEqual(['c.tar.gz.sha256', 'c_1.tar.gz', 'c_1.tar.gz.sha256']);
    expect(await readFile(join(dir.path, 'c.tar.gz.sha256'), 'utf8')).toBe('stray\n');
    expect(await readFile(join(dir.path, 'c_1.tar.gz.sha256'), 'utf8')).toBe('digest  c_1.tar.gz\n');
    expect((await stat(join(dir.path, 'c_1.tar.gz.sha256'))).mode & 0o777).toBe(0o600);

    // Without avoidCollision the taken sidecar name fails the commit and nothing is published.
    const exact = await target.put('c.tar.gz');
    await pipeline(Readable.from([Buffer.from('other')]), exact.stream);
    await expect(exact.commit(sidecars)).rejects.toThrow(/c\.tar\.gz already exists; it was not overwritten/);
    expect((await readdir(dir.path)).sort()).toEqual(['c.tar.gz.sha256', 'c_1.tar.gz', 'c_1.tar.gz.sha256']);
  });

  it('abort leaves no file behind', async () => {
    const target = createLocalTarget(dir.path);
    const upload = await target.put('b.tar.gz');
    upload.stream.write('partial');
    await upload.abort();
    expect(await readdir(dir.path)).toEqual([]);
    expect(await target.stat('b.tar.gz')).toBeUndefined();
  });

  it('check() explains a path that is a file', async () => {
    await writeFile(join(dir.path, 'f'), 'x');
    await expect(createLocalTarget(join(dir.path, 'f')).check()).rejects.toThrow(/not a directory/);
  });

  it('check() explains a read-only directory (a real read-only mount, which binds root too)', async (ctx) => {
    const ro = join(dir.path, 'ro');
    await mkdir(ro);
    if (optedOut('tmpfs', 'the read-only target check')) return ctx.skip();
    mountTmpfs(ro, 'ro,size=1m');
    try {
      await expect(createLocalTarget(ro).check()).rejects.toThrow(/not writable.*EROFS/);
    } finally {
      execFileSync('umount', [ro]);
    }
  });

  it('check() explains a directory the user may not write (as nobody)', { timeout: 120_000 }, async () => {
    const locked = join(dir.path, 'locked');
    await mkdir(locked, { mode: 0o755 });
    execFileSync('chmod', ['755', dir.path]);
    // Node 20 cannot run .ts directly: compile the project into a dir 'nobody' can read.
    const build = join(dir.path, 'build');
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.', '--outDir', build]);
    await writeFile(join(build, 'package.json'), '{"type":"module"}');
    execFileSync('chmod', ['-R', 'a+rX', build]);
    const script = `import('${build}/targets/local.js').then(m => m.createLocalTarget('${locked}').check()).then(() => console.log('ok'), e => console.log(e.code + ' ' + e.message))`;
    const out = execFileSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { encoding: 'utf8' }).trim();
    expect(out).toMatch(/^ETARGET .*not writable.*EACCES/);
  });
});

describe('nfs target', () => {
  it('accepts a mount point and refuses a plain directory', async (ctx) => {
    const plain = join(dir.path, 'plain');
    await mkdir(plain);
    await expect(createNfsTarget(`nfs://${plain}`).check()).rejects.toThrow(/not a mount point/);
    const mounted = join(dir.path, 'share');
    await mkdir(mounted);
    if (optedOut('tmpfs', 'the NFS (mount point) target')) return ctx.skip();
    mountTmpfs(mounted, 'size=4m');
    try {
      const target = createNfsTarget(`nfs://${mounted}`);
      expect(target.uri).toBe(`nfs://${mounted}`);
      await target.check();
      const upload = await target.put('a.tar.gz');
      await pipeline(Readable.from([Buffer.from('data')]), upload.stream);
      expect((await upload.commit()).size).toBe(4);
    } finally {
      execFileSync('umount', [mounted]);
    }
  });
});

/** Writes the stream to a file in the test dir; its path. */
async function streamToFile(stream: NodeJS.ReadableStream): Promise<string> {
  const path = join(dir.path, 'copy');
  await pipeline(stream, (await import('node:fs')).createWriteStream(path));
  return path;
}
