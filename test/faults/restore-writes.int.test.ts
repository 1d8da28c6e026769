/**
 * Restore writes only backed-up content, and only inside real directories of the host:
 * - a hardlink entry resolves to content staged from the same backup, never to a live host file
 *   (a crafted link to `<tree>/…/shadow`, and a legitimate link restored by a `files:` subset);
 * - no write goes through a symbolic link on the host at or below the collected path, whoever
 *   made it (here: another component's restore of the same backup); above it, only through a link
 *   of the host's own layout (root's, not restored by the backup), as LambdaStack links /opt/kafka
 *   to /opt/kafka_<scala>-<version>.
 * Each case runs against a local host and a host of the real sshd fleet (where writes go through
 * SSH and sudo). `shadow` is a temp file standing in for /etc/shadow: outside the collected tree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { lchown, link, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { readEntries, withMetadata, type RawEntry } from './crafted-archive.js';

const KINDS = ['local', 'ssh'] as const;

describe.each(KINDS)('restore writes only staged content, never through links (%s host)', (kind) => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let fleet: Fleet | undefined;
  let build: string;
  let host: string;
  let data: string;
  let outside: string;
  let shadow: string;
  /** `<opt>/kafka` links to `<opt>/kafka_2.12-2.6.0` (root's link): the component `layout` collects `<opt>/kafka/config`. */
  let opt: string;
  let archive: string;
  let entries: RawEntry[];
  let metadata: Record<string, unknown>;
  let n = 0;

  // app and app2 both back up and restore `data`; app2 may first wait for a link to appear.
  const recipe = (name: string) =>
    recipeYaml(
      name,
      `hosts: { group: ${name} }
${kind === 'ssh' ? 'become: true\n' : ''}vars: { subset: "${data}", waitfor: "" }
backup:
  collect:
    - path: "${data}"
restore:
  pre:
    - name: wait for the other component's link
      when: "{{vars.waitfor}}"
      run: i=0; while [ ! -h {{vars.waitfor}} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
  apply:
    - files: "{{vars.subset}}"
`,
    );

  const layoutRecipe = () =>
    recipeYaml(
      'layout',
      `hosts: { group: layout }
${kind === 'ssh' ? 'become: true\n' : ''}backup:
  collect:
    - path: "${opt}/kafka/config"
restore:
  apply:
    - files: "${opt}/kafka/config"
`,
    );

  beforeAll(async () => {
    ws = await workspace('lsb-restore-writes-');
    build = path.join(ws.dir, 'build');
    data = path.join(ws.dir, 'data');
    outside = path.join(ws.dir, 'outside');
    shadow = path.join(ws.dir, 'shadow');
    opt = path.join(ws.dir, 'opt');
    await mkdir(outside);
    if (kind === 'ssh') {
      fleet = await startFleet({ hosts: 1 });
      fleet.writeInventory(build, { host1: ['app', 'app2', 'layout'] });
      host = 'host1';
    } else {
      await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n[app2]\nlocalhost\n[layout]\nlocalhost\n');
      host = 'localhost';
    }
    await ws.write('data/keep.txt', 'keep\n');
    await ws.write('data/a/f', 'backed up\n');
    await mkdir(path.join(data, 'b'));
    await link(path.join(data, 'a/f'), path.join(data, 'b/g'));
    await ws.write('recipes/app.yaml', recipe('app'));
    await ws.write('recipes/app2.yaml', recipe('app2'));
    await ws.write('opt/kafka_2.12-2.6.0/config/server.properties', 'broker.id=1\n');
    await symlink(path.join(opt, 'kafka_2.12-2.6.0'), path.join(opt, 'kafka'));
    await ws.write('recipes/layout.yaml', layoutRecipe());
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', build, '-t', path.join(ws.dir, 'backups')]);
    expect(r.exitCode, r.stderr).toBe(0);
    archive = path.join(
      ws.dir,
      'backups',
      (await readdir(path.join(ws.dir, 'backups'))).find((f) => f.endsWith('.tar.gz'))!,
    );
    const all = await readEntries(await readFile(archive));
    metadata = JSON.parse(all.find((e) => e.path === 'metadata.json')!.body!.toString('utf8'));
    entries = all.filter((e) => e.path !== 'metadata.json');
  }, 180_000);
  afterAll(async () => {
    await fleet?.stop();
    await ws?.cleanup();
  });

  const restore = async (file: string, extra: string[] = []) => {
    // Unsigned: the installed recipes run (these, the ones the backup was made with).
    const r = await runCli(['restore', file, '-b', build, '--yes', '--recipes', path.join(ws.dir, 'recipes'), ...extra], { timeoutMs: 180_000 });
    return { ...r, all: r.stdout + r.stderr };
  };
  const crafted = async (extra: RawEntry[]) => {
    const file = path.join(ws.dir, `crafted${++n}`, path.basename(archive));
    await mkdir(path.dirname(file));
    await writeFile(file, withMetadata([...entries, ...extra], metadata));
    return file;
  };
  /** The host path an entry of `<component>/<host>/files/…` stands for. */
  const hostPath = (entryPath: string) => '/' + entryPath.split('/').slice(3).join('/');

  it('refuses a crafted hardlink to a host file that is not in the backup, before touching the host', async () => {
    await writeFile(shadow, 'root:$6$secret-hash:19000::::::\n', { mode: 0o600 });
    const evil = path.join(data, 'evil');
    const file = await crafted([{ path: `app/${host}/files${evil}`, type: 'Link', linkpath: `app/${host}/files${shadow}` }]);
    const r = await restore(file, ['--only', 'app']);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toContain(`hardlink 'app/${host}/files${evil}' -> 'app/${host}/files${shadow}'`);
    expect(r.stderr).toMatch(/not a file stored before it in the backup/);
    expect(existsSync(evil)).toBe(false);
    expect((await stat(shadow)).nlink).toBe(1);
    expect(await readFile(shadow, 'utf8')).toBe('root:$6$secret-hash:19000::::::\n');
  });

  it('a legitimate hardlink restored without its target (a files: subset) gets the backed-up content, not the live file', async () => {
    const hardlink = entries.find((e) => e.type === 'Link' && e.path.startsWith(`app/${host}/`))!;
    expect(hardlink, 'the backup recorded a/f and b/g as one file and a hardlink').toBeDefined();
    const linkFile = hostPath(hardlink.path);
    const targetFile = hostPath(hardlink.linkpath!);
    // The live file changes after the backup; the link's own path is lost.
    await writeFile(targetFile, 'live\n');
    await rm(linkFile);
    const r = await restore(archive, ['--only', 'app', '--var', `app.subset=${path.dirname(linkFile)}`]);
    expect(r.exitCode, r.all).toBe(0);
    expect(await readFile(linkFile, 'utf8')).toBe('backed up\n');
    expect(await readFile(targetFile, 'utf8')).toBe('live\n');
    expect((await stat(targetFile)).nlink).toBe(1);

    // Both sides restored together stay one file (the link is kept as a link).
    const whole = await restore(archive, ['--only', 'app']);
    expect(whole.exitCode, whole.all).toBe(0);
    expect(await readFile(targetFile, 'utf8')).toBe('backed up\n');
    expect((await stat(targetFile)).ino).toBe((await stat(linkFile)).ino);
  });

  it("never writes through a symbolic link another component restored (app's data/lnk -> outside, app2's data/lnk/x)", async () => {
    const lnk = path.join(data, 'lnk');
    const file = await crafted([
      { path: `app/${host}/files${lnk}`, type: 'SymbolicLink', linkpath: outside },
      { path: `app2/${host}/files${lnk}/x`, type: 'File', body: Buffer.from('evil\n') },
    ]);
    // app2 starts writing only once app's link exists on the host.
    const r = await restore(file, ['--var', `app2.waitfor=${lnk}`]);
    expect(await readdir(outside)).toEqual([]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.all).toContain(`through the symbolic link '${lnk}'`);
    await rm(lnk, { force: true });
  });

  it("never follows a link this backup restores, even above the collected path (app's data/lnk, app2's data/lnk/sub)", async () => {
    const lnk = path.join(data, 'lnk');
    const file = await crafted([
      { path: `app/${host}/files${lnk}`, type: 'SymbolicLink', linkpath: outside },
      { path: `app2/${host}/files${lnk}/sub/x`, type: 'File', body: Buffer.from('evil\n') },
    ]);
    const r = await restore(file, ['--var', `app2.waitfor=${lnk}`, '--var', `app2.subset=${lnk}/sub`]);
    expect(await readdir(outside)).toEqual([]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.all).toContain(`through the symbolic link '${lnk}' on the host, which this backup restores (component 'app')`);
    await rm(lnk, { force: true });
  });

  describe("a link of the host's own layout above the collected path (LambdaStack: /opt/kafka -> /opt/kafka_2.12-2.6.0)", () => {
    const live = () => path.join(opt, 'kafka_2.12-2.6.0/config/server.properties');

    it('is followed when root owns it: the configuration comes back into the release directory, the link stays', async () => {
      await writeFile(live(), 'changed\n');
      const r = await restore(archive, ['--only', 'layout']);
      expect(r.exitCode, r.all).toBe(0);
      expect(await readFile(live(), 'utf8')).toBe('broker.id=1\n');
      expect((await lstat(path.join(opt, 'kafka'))).isSymbolicLink()).toBe(true);
    });

    it('is refused when another user owns it (who could choose where root writes)', async () => {
      await writeFile(live(), 'changed\n');
      await lchown(path.join(opt, 'kafka'), 65534, 65534);
      try {
        const r = await restore(archive, ['--only', 'layout']);
        expect(r.exitCode, r.all).toBe(1);
        expect(r.all).toContain(`through the symbolic link '${opt}/kafka' on the host: it is owned by uid 65534`);
        expect(await readFile(live(), 'utf8')).toBe('changed\n');
      } finally {
        await lchown(path.join(opt, 'kafka'), 0, 0);
      }
    });
  });
});
