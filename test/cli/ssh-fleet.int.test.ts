/**
 * Backups over SSH through the built CLI: a real sshd fleet (test/fleet) with hosts in
 * different inventory groups, recipes that use sudo (become), snapshot outputs and collected
 * files; then a 50-host run with the default concurrency. Nothing is mocked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { storedBackup, verifyWithSystemTools } from '../helpers/archive.js';
import { summaryRows } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const groups = { host1: ['app'], host2: ['app'], host3: ['db'] };

describe('backup of three SSH hosts in two groups', () => {
  let fleet: Fleet;
  let cluster: Cluster;
  const mtime = new Date('2021-03-04T05:06:07Z');

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 3 });
    cluster = await createCluster({ fleet, groups, dataDirs: true });
    for (const h of fleet.hosts) {
      const conf = path.join(cluster.dataDir(h.name), 'conf');
      mkdirSync(path.join(conf, 'sub'), { recursive: true });
      // Root-owned and 0640: only readable through become.
      writeFileSync(path.join(conf, 'secret.conf'), `key of ${h.name}\n`, { mode: 0o640 });
      chownSync(path.join(conf, 'secret.conf'), 0, 4); // root:adm
      writeFileSync(path.join(conf, 'sub', 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o750 });
      utimesSync(path.join(conf, 'sub', 'script.sh'), mtime, mtime);
      symlinkSync('sub/script.sh', path.join(conf, 'current'));
      writeFileSync(path.join(conf, 'run.pid'), '4242\n');
      writeFileSync(path.join(cluster.dataDir(h.name), 'state'), `state of ${h.name}\n`);
    }
    await cluster.writeRecipe(
      'app',
      `hosts: { group: app, run: all }
vars: { data: /nonexistent }
become: true
version: echo 2.1.0
backup:
  snapshot:
    - name: who and state
      run: printf '%s %s ' "$(id -un)" {{host.name}}; cat {{vars.data}}/state
      output: state.txt
  collect:
    - path: "{{vars.data}}/conf"
      exclude: ["*.pid"]
`,
    );
    await cluster.writeRecipe(
      'db',
      `hosts: { group: db, run: all }
vars: { data: /nonexistent }
backup:
  snapshot:
    - name: dump as login user
      run: printf 'dump by %s on %s\\n' "$(id -un)" {{host.name}}; head -c 300000 /dev/urandom | base64
      output: dump.txt
    - name: dump as root
      run: id -un
      become: true
      output: whoami.txt
`,
    );
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await fleet?.stop();
  });

  it('writes one archive with every host, group, output and file (modes, owners, mtimes, links, excludes)', async () => {
    const r = await cluster.apply(cluster.recipes);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.exitCode, r.stderr).toBe(0);
    const backup = await storedBackup(cluster.target);
    const { meta } = backup;
    expect(meta.status).toBe('success');
    expect(meta.hosts.map((h) => [h.name, h.address, h.groups]).sort()).toEqual(
      fleet.hosts.map((h) => [h.name, h.address, groups[h.name as keyof typeof groups]]),
    );
    const byName = Object.fromEntries(meta.components.map((c) => [c.name, c]));
    expect(byName.app!.status).toBe('success');
    expect(byName.app!.hosts.map((h) => [h.name, h.status]).sort()).toEqual([
      ['host1', 'success'],
      ['host2', 'success'],
    ]);
    expect(byName.db!.hosts.map((h) => [h.name, h.status])).toEqual([['host3', 'success']]);

    const out = await verifyWithSystemTools(backup, path.join(cluster.dir, 'extract'));
    for (const h of ['host1', 'host2']) {
      expect(readFileSync(path.join(out, `app/${h}/state.txt`), 'utf8')).toBe(`root ${h} state of ${h}\n`);
      const conf = path.join(out, `app/${h}/files`, cluster.dataDir(h), 'conf');
      expect(readFileSync(path.join(conf, 'secret.conf'), 'utf8')).toBe(`key of ${h}\n`);
      const secret = lstatSync(path.join(conf, 'secret.conf'));
      expect(secret.mode & 0o777).toBe(0o640);
      expect([secret.uid, secret.gid]).toEqual([0, 4]); // tar -x as root keeps owners
      const script = lstatSync(path.join(conf, 'sub/script.sh'));
      expect(script.mode & 0o777).toBe(0o750);
      expect(script.mtime.getTime()).toBe(mtime.getTime());
      expect(readlinkSync(path.join(conf, 'current'))).toBe('sub/script.sh');
      const entries = meta.entries.filter((e) => e.path.startsWith(`app/${h}/`));
      expect(entries.some((e) => e.path.endsWith('run.pid'))).toBe(false);
      expect(entries.find((e) => e.path.endsWith('/current'))).toMatchObject({ type: 'symlink', linkpath: 'sub/script.sh' });
    }
    expect(readFileSync(path.join(out, 'db/host3/dump.txt'), 'utf8')).toMatch(/^dump by lsbtest on host3\n/);
    expect(readFileSync(path.join(out, 'db/host3/whoami.txt'), 'utf8')).toBe('root\n');
    // Nothing from the db recipe on app hosts and vice versa.
    expect(meta.entries.filter((e) => /^(app\/host3|db\/host[12])\//.test(e.path))).toEqual([]);

    // The summary table on stdout: one row per component × host.
    const rows = summaryRows(r.stdout);
    expect(rows.map((c) => [c[0], c[1], c[2]]).sort()).toEqual([
      ['app', 'host1', 'success'],
      ['app', 'host2', 'success'],
      ['db', 'host3', 'success'],
    ]);
    expect(r.stdout).toMatch(/^COMPONENT\s+HOST\s+STATUS\s+BYTES\s+TIME/m);
    expect(r.stdout).toMatch(/Result: success -> lsbackup-build-\d{8}T\d{6}Z\.tar\.gz/);
    console.log(`summary of the 3-host SSH run:\n${r.stdout}`);
  });

  it('reports a file it cannot read (root 0600, collected without become) as a failure naming it', async () => {
    const locked = path.join(cluster.dataDir('host3'), 'locked', 'private.key');
    mkdirSync(path.dirname(locked), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(path.dirname(locked), 'public.txt'), 'readable\n', { mode: 0o644 });
    writeFileSync(locked, 'top secret\n', { mode: 0o600 });
    await cluster.writeRecipe(
      'locked',
      `hosts: { group: db }
vars: { data: /nonexistent }
backup:
  collect:
    - path: "{{vars.data}}/locked"
`,
    );
    const target = path.join(cluster.dir, 'backups-locked');
    const r = await cluster.apply(cluster.recipes, ['--only', 'locked'], target);
    expect(r.exitCode).toBe(1); // the only component failed: nothing usable
    expect(r.stderr).toContain('host3');
    expect(r.stderr).toContain(`${locked}: Cannot open: Permission denied`);
    expect(
      summaryRows(r.stdout)
        .find((c) => c[0] === 'locked')!
        .slice(0, 3),
    ).toEqual(['locked', 'host3', 'failed']);
  });
});

describe('a fleet of 50 hosts', () => {
  let fleet: Fleet;
  let cluster: Cluster;

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 50 });
    cluster = await createCluster({ fleet, groups: Object.fromEntries(fleet.hosts.map((h, i) => [h.name, [i % 2 ? 'odd' : 'even']])), dataDirs: true });
    await cluster.writeRecipe(
      'tiny',
      `hosts: { group: [even, odd], run: all }
vars: { data: /nonexistent }
backup:
  snapshot:
    - run: echo {{host.name}} $(hostname)
      output: name.txt
  collect:
    - path: "{{vars.data}}"
`,
    );
    for (const h of fleet.hosts) writeFileSync(path.join(cluster.dataDir(h.name), 'f.txt'), `${h.name}\n`);
  }, 300_000);
  afterAll(async () => {
    await cluster?.cleanup();
    await fleet?.stop();
  });

  it('backs up all of them with the default concurrency, one readable progress line per event', async () => {
    const r = await cluster.apply(cluster.recipes);
    expect(r.exitCode, r.stderr).toBe(0);
    const { meta } = await storedBackup(cluster.target);
    expect(meta.status).toBe('success');
    expect(meta.components[0]!.hosts).toHaveLength(50);
    expect(meta.entries.filter((e) => /^tiny\/host\d+\/name\.txt$/.test(e.path))).toHaveLength(50);
    // Plain progress (stderr is not a TTY): every line is one whole event. A run longer than the
    // progress interval (5 s) adds whole progress lines too: how many depends on the machine's speed.
    const progress = /^backup: [\d.]+ (B|KiB|MiB|GiB) streamed from the hosts, [\d.]+ (B|KiB|MiB|GiB)\/s, \d+ entries, hosts \d+\/50$/;
    const lines = r.stderr
      .trimEnd()
      .split('\n')
      .filter((l) => !progress.test(l));
    const pattern =
      /^(lsbackup backup [0-9a-f-]+ of cluster 'build': .*|  tiny @ host\d+: (started|snapshot: snapshot\[0\] echo host\d+ \$\(hostname\)|collect: collect\[0\] collect \S+\/data\/host\d+|success \(.*\))|tiny: success|stored lsbackup-build-\S+ \(.*\) in \S+|SUCCESS in .*: lsbackup-build-\S+)$/;
    expect(lines.filter((l) => !pattern.test(l))).toEqual([]);
    for (const h of fleet.hosts) {
      expect(lines.filter((l) => l === `  tiny @ ${h.name}: started`)).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith(`  tiny @ ${h.name}: success (`))).toHaveLength(1);
    }
    expect(summaryRows(r.stdout)).toHaveLength(50);
  });
});
