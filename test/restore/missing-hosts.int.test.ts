/**
 * Which components a restore brings back, in disaster recovery into a smaller cluster:
 * - a backed-up host no longer exists and nothing maps it (no host of that name, none at its
 *   position in the group, no --host-map): its component is not restored, and the run says so in
 *   its result, not only in the plan: a restore that brought back everything else exits 2;
 * - --skip leaves a component alone; a name --only or --skip gives that the backup does not hold,
 *   or an old host name of --host-map it does not hold, is a usage error, not a restore of
 *   something else; so is a new host name of --host-map the inventory does not hold.
 * Real CLI, local hosts, local target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

describe('restore: which components come back', () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let archive: string;

  /** Collects `<ws>/<name>` and puts it back. */
  const component = (name: string, dir: string) => {
    const spec = [`hosts: { group: ${name} }`, 'backup:', '  collect:', `    - path: "${dir}"`, 'restore:', '  apply:', `    - files: "${dir}"`];
    return recipeYaml(name, spec.join('\n') + '\n');
  };

  beforeAll(async () => {
    ws = await workspace('lsb-missing-hosts-');
    await ws.write('data-app/a.txt', 'app\n');
    await ws.write('data-solo/s.txt', 'solo\n');
    await ws.write('recipes/app.yaml', component('app', path.join(ws.dir, 'data-app')));
    await ws.write('recipes/solo.yaml', component('solo', path.join(ws.dir, 'data-solo')));
    // The old cluster: two app hosts (both this machine), the first also runs solo.
    await ws.write('old/inventory', '[app]\nnode1 ansible_connection=local\nnode2 ansible_connection=local\n[solo]\nnode1\n');
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'old'), '-t', path.join(ws.dir, 'backups')]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    archive = path.join(
      ws.dir,
      'backups',
      (await readdir(path.join(ws.dir, 'backups'))).find((f) => f.endsWith('.tar.gz'))!,
    );
    // The new cluster has one host.
    await ws.write('new/inventory', '[app]\nfresh1 ansible_connection=local\n[solo]\nfresh1\n');
  }, 180_000);
  afterAll(() => ws?.cleanup());

  it('restores what maps and exits 2 naming the component and the host without a restore host', async () => {
    await rm(path.join(ws.dir, 'data-solo'), { recursive: true });
    const r = await runCli(['restore', archive, '-b', path.join(ws.dir, 'new'), '--yes', '--recipes', path.join(ws.dir, 'recipes')], {
      timeoutMs: 180_000,
    });
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(await readFile(path.join(ws.dir, 'data-solo/s.txt'), 'utf8'), all).toBe('solo\n');
    expect(r.exitCode, all).toBe(2);
    expect(r.stderr, all).toContain("- app: NOT restored (the restore fails for it): no restore host for node2: no host named 'node2'");
    expect(all).toContain('pass --host-map node2=<host>');
    expect(r.stdout, all).toMatch(/Result: partial/);
  });

  it('a --json dry run marks the component that will not be restored, not one left out by --skip', async () => {
    const r = await runCli(
      ['restore', archive, '-b', path.join(ws.dir, 'new'), '--dry-run', '--json', '--recipes', path.join(ws.dir, 'recipes'), '--skip', 'solo'],
      {
        timeoutMs: 180_000,
      },
    );
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(0);
    const components = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'restore.plan.component');
    expect(
      components.find((c) => c.name === 'app'),
      all,
    ).toMatchObject({ notRestored: true, skipReason: expect.stringContaining('no restore host for node2') });
    const solo = components.find((c) => c.name === 'solo');
    expect(solo, all).toMatchObject({ skipReason: expect.stringContaining('--skip') });
    expect(solo, all).not.toHaveProperty('notRestored');
  });

  it('--skip leaves a component alone (it was accepted and ignored: the component was restored over the live data)', async () => {
    await ws.write('data-app/a.txt', 'live, newer than the backup\n');
    await rm(path.join(ws.dir, 'data-solo'), { recursive: true });
    const r = await runCli(
      ['restore', archive, '-b', path.join(ws.dir, 'new'), '--yes', '--recipes', path.join(ws.dir, 'recipes'), '--host-map', 'node2=fresh1', '--skip', 'app'],
      { timeoutMs: 180_000 },
    );
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(0);
    expect(all).toContain('- app: skipped, not selected (--skip)');
    expect(await readFile(path.join(ws.dir, 'data-app/a.txt'), 'utf8')).toBe('live, newer than the backup\n');
    expect(await readFile(path.join(ws.dir, 'data-solo/s.txt'), 'utf8')).toBe('solo\n');
  });

  it('a component --only or --skip names that the backup does not hold is a usage error before any host is touched (exit 64)', async () => {
    await ws.write('data-solo/s.txt', 'live\n');
    for (const flag of ['--only', '--skip']) {
      const r = await runCli(
        ['restore', archive, '-b', path.join(ws.dir, 'new'), '--yes', '--recipes', path.join(ws.dir, 'recipes'), '--host-map', 'node2=fresh1', flag, 'solo,ap'],
        { timeoutMs: 180_000 },
      );
      const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
      expect(r.exitCode, all).toBe(64);
      expect(r.stderr, all).toContain(
        `${flag} names 'ap', which backup ${path.basename(archive)} does not hold (did you mean 'app'?); its components: app, solo`,
      );
      expect(await readFile(path.join(ws.dir, 'data-solo/s.txt'), 'utf8')).toBe('live\n');
    }
  });

  // Said before the archive is read (hours for a large one in S3): shown here by an archive that
  // no longer reads, its metadata sidecar intact, which would otherwise be refused as damaged.
  it('a misspelt --only, --skip-host or --host-map name is said before the archive is read, by its metadata sidecar', async () => {
    const copy = path.join(ws.dir, 'unread');
    await mkdir(copy, { recursive: true });
    for (const f of await readdir(path.dirname(archive)))
      if (f.startsWith(path.basename(archive))) await cp(path.join(path.dirname(archive), f), path.join(copy, f));
    const unreadable = path.join(copy, path.basename(archive));
    await writeFile(unreadable, Buffer.alloc((await stat(archive)).size, 1));
    const cases: [string[], string][] = [
      [['--only', 'ap'], `--only names 'ap', which backup ${path.basename(archive)} does not hold (did you mean 'app'?)`],
      [['--skip-host', 'nod2'], `--skip-host nod2: backup ${path.basename(archive)} holds no host 'nod2'`],
      [['--host-map', 'node2=frsh1'], `--host-map node2=frsh1: the inventory ${path.join(ws.dir, 'new')}`],
    ];
    for (const [flags, said] of cases) {
      const r = await runCli(['restore', unreadable, '-b', path.join(ws.dir, 'new'), '--yes', '--recipes', path.join(ws.dir, 'recipes'), ...flags], {
        timeoutMs: 180_000,
      });
      const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
      expect(r.exitCode, all).toBe(64);
      expect(r.stderr, all).toContain(said);
    }
  });

  it('--skip-host leaves a backed-up host out: the rest of its component is restored into the smaller cluster, and the plan says so', async () => {
    await ws.write('data-app/a.txt', 'live, newer than the backup\n');
    const args = ['restore', archive, '-b', path.join(ws.dir, 'new'), '--yes', '--recipes', path.join(ws.dir, 'recipes')];
    const r = await runCli([...args, '--skip-host', 'node2'], { timeoutMs: 180_000 });
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(0);
    expect(r.stderr, all).toContain('    node1 -> fresh1 (position 1 in group app)');
    expect(r.stderr, all).toContain('    node2: left out (--skip-host)');
    expect(await readFile(path.join(ws.dir, 'data-app/a.txt'), 'utf8')).toBe('app\n');
    const dry = await runCli([...args, '--skip-host', 'node2', '--dry-run', '--json'], { timeoutMs: 180_000 });
    const planned = dry.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.type === 'restore.plan.component' && e.name === 'app');
    expect(planned, dry.stdout + dry.stderr).toMatchObject({ leftOut: ['node2'], hosts: [{ from: 'node1', to: 'fresh1' }] });
    // A host the backup does not hold, or one both left out and mapped, is a usage error before any host is touched.
    await ws.write('data-app/a.txt', 'live\n');
    for (const [extra, message] of [
      [['--skip-host', 'nod2'], `--skip-host nod2: backup ${path.basename(archive)} holds no host 'nod2' (did you mean 'node2'?); its hosts: node1, node2`],
      [
        ['--skip-host', 'node2', '--host-map', 'node2=fresh1'],
        '--skip-host node2 and --host-map node2=fresh1: a backed-up host is either left out or restored somewhere',
      ],
    ] as const) {
      const refused = await runCli([...args, ...extra], { timeoutMs: 180_000 });
      expect(refused.exitCode, `${refused.stdout}\n${refused.stderr}`).toBe(64);
      expect(refused.stderr).toContain(message);
    }
    expect(await readFile(path.join(ws.dir, 'data-app/a.txt'), 'utf8')).toBe('live\n');
  });

  // 1 -> 2 monitoring VMs: LambdaStack puts Grafana, Prometheus and Alertmanager on each, and the
  // new VM has nothing in the backup.
  it('into a larger cluster: the plan names each host of the component that nothing is restored onto', async () => {
    await ws.write(
      'bigger/inventory',
      '[app]\nfresh1 ansible_connection=local\nfresh2 ansible_connection=local\nfresh3 ansible_connection=local\n[solo]\nfresh1\nfresh2\n',
    );
    const args = ['restore', archive, '-b', path.join(ws.dir, 'bigger'), '--dry-run', '--recipes', path.join(ws.dir, 'recipes')];
    const r = await runCli(args, { timeoutMs: 180_000 });
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(0);
    expect(r.stdout, all).toContain('    node2 -> fresh2 (position 2 in group app)');
    expect(r.stdout, all).toContain('    fresh3: NOTHING restored onto it: no backed-up host of app maps to it');
    expect(r.stdout, all).toContain('    fresh2: NOTHING restored onto it: no backed-up host of solo maps to it');
    const dry = await runCli([...args, '--json'], { timeoutMs: 180_000 });
    const planned = dry.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'restore.plan.component');
    expect(
      planned.find((e) => e.name === 'app'),
      dry.stdout + dry.stderr,
    ).toMatchObject({ withoutData: ['fresh3'] });
    expect(
      planned.find((e) => e.name === 'solo'),
      dry.stdout + dry.stderr,
    ).toMatchObject({ withoutData: ['fresh2'] });
    // The same cluster: every host gets its own data, and no such line.
    const same = await runCli(['restore', archive, '-b', path.join(ws.dir, 'old'), '--dry-run', '--recipes', path.join(ws.dir, 'recipes')], {
      timeoutMs: 180_000,
    });
    expect(same.stdout, `${same.stdout}\n${same.stderr}`).not.toContain('NOTHING restored');
  });

  it("a --host-map whose old name the backup does not hold is a usage error (the host's data would go where the default mapping puts it)", async () => {
    await ws.write('data-solo/s.txt', 'live\n');
    const r = await runCli(
      ['restore', archive, '-b', path.join(ws.dir, 'new'), '--yes', '--recipes', path.join(ws.dir, 'recipes'), '--host-map', 'nod2=fresh1'],
      {
        timeoutMs: 180_000,
      },
    );
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(64);
    expect(r.stderr, all).toContain(
      `--host-map nod2=fresh1: backup ${path.basename(archive)} holds no host 'nod2' (did you mean 'node2'?); its hosts: node1, node2`,
    );
    expect(await readFile(path.join(ws.dir, 'data-solo/s.txt'), 'utf8')).toBe('live\n');
  });

  it('a --host-map whose new name the inventory does not hold is a usage error before any host is touched (it restored every other component, then failed, exit 2)', async () => {
    await ws.write('data-solo/s.txt', 'live\n');
    const r = await runCli(
      ['restore', archive, '-b', path.join(ws.dir, 'new'), '--yes', '--recipes', path.join(ws.dir, 'recipes'), '--host-map', 'node2=frsh1'],
      { timeoutMs: 180_000 },
    );
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(64);
    expect(r.stderr, all).toContain(
      `--host-map node2=frsh1: the inventory ${path.join(ws.dir, 'new', 'inventory')} has no host 'frsh1' (did you mean 'fresh1'?); its hosts: fresh1`,
    );
    expect(await readFile(path.join(ws.dir, 'data-solo/s.txt'), 'utf8')).toBe('live\n');
  });

  it("refuses to restore two backed-up hosts onto one by default (node1 was replaced by fresh, the inventory lists node2 first: node1's position is node2's)", async () => {
    await ws.write('new2/inventory', '[app]\nnode2 ansible_connection=local\nfresh ansible_connection=local\n[solo]\nfresh\n');
    const r = await runCli(['restore', archive, '-b', path.join(ws.dir, 'new2'), '--yes', '--recipes', path.join(ws.dir, 'recipes')], { timeoutMs: 180_000 });
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(2);
    expect(r.stderr, all).toContain(
      '- app: NOT restored (the restore fails for it): node1 (position 1 in group app) and node2 (same name) would both be restored onto node2, one over the other: pass --host-map node1=<host>',
    );
    // With the mapping said, each goes to its own host.
    const mapped = await runCli(
      ['restore', archive, '-b', path.join(ws.dir, 'new2'), '--yes', '--recipes', path.join(ws.dir, 'recipes'), '--host-map', 'node1=fresh'],
      {
        timeoutMs: 180_000,
      },
    );
    expect(mapped.exitCode, `${mapped.stdout}\n${mapped.stderr}`).toBe(0);
  });

  it('--host-map gives the missing host a place (both old hosts onto the one new host, as said for each): then everything is restored, exit 0', async () => {
    const r = await runCli(
      [
        'restore',
        archive,
        '-b',
        path.join(ws.dir, 'new'),
        '--yes',
        '--recipes',
        path.join(ws.dir, 'recipes'),
        '--host-map',
        'node1=fresh1',
        '--host-map',
        'node2=fresh1',
      ],
      { timeoutMs: 180_000 },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  });
});

/**
 * A component on every host (`hosts: { group: all }`, host-basics) restored into a rebuilt cluster
 * with other names and more hosts: the backup's hosts map by their position in `all`, which
 * metadata.json does not list among a host's groups (Ansible's implicit group). Shipped recipe,
 * real CLI, local hosts.
 */
describe('restore into a rebuilt cluster: a component of group all maps by position', () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  beforeAll(async () => {
    ws = await workspace('lsb-rebuilt-all-');
    await ws.write('old/inventory', '[app]\nold1 ansible_connection=local\nold2 ansible_connection=local\n');
    await ws.write('new/inventory', '[app]\nnew1 ansible_connection=local\nnew2 ansible_connection=local\nnew3 ansible_connection=local\n');
  });
  afterAll(() => ws?.cleanup());

  it('restores host-basics onto the new hosts (was: NOT restored, "no host at position 0 of group all", exit 2)', async () => {
    const target = path.join(ws.dir, 'backups');
    const backup = await runCli(['apply', '-b', path.join(ws.dir, 'old'), '-t', target, '--only', 'host-basics'], { timeoutMs: 180_000 });
    expect(backup.exitCode, backup.stdout + backup.stderr).toBe(0);
    const r = await runCli(['restore', 'latest', '--cluster', 'old', '-b', path.join(ws.dir, 'new'), '-t', target, '--yes', '--only', 'host-basics'], {
      timeoutMs: 180_000,
    });
    const all = `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, all).toBe(0);
    expect(r.stdout, all).toMatch(/host-basics +old1 -> new1 +success/);
    expect(r.stdout, all).toMatch(/host-basics +old2 -> new2 +success/);
  });
});
