/**
 * `compress: remote` through the built CLI against a real sshd fleet: the host runs the
 * command's stdout through zstd, lsbackup decompresses it, and the archive must be the same
 * as without. Failures keep their exit codes and stderr; a host without zstd, or with a
 * zstd that sends something else, fails that host with a line naming it; the mode follows
 * host var > --compress > job > top-level config > local, and a bad host var stops the run.
 */
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupMetadata, ComponentHostRecord } from '../../engine/archive/index.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { componentOf, hostOf, storedBackup, verifyWithSystemTools, archivesIn, readMetadata } from '../helpers/archive.js';
import { cliOutput, runCli, jsonEvents } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

let fleet: Fleet;
let cluster: Cluster;
/** Recipe files of this test's cluster (later tests add more to the directory). */
const recipe = (...names: string[]) => names.map((n) => path.join(cluster.recipes, `${n}.yaml`));

beforeAll(async () => {
  fleet = await startFleet({ hosts: 2 });
  cluster = await createCluster({ fleet, groups: { host1: ['app'], host2: ['app'] }, dataDirs: true });
  for (const host of ['host1', 'host2']) {
    const data = cluster.dataDir(host);
    await mkdir(path.join(data, 'conf', 'sub'), { recursive: true });
    await writeFile(path.join(data, 'conf', 'app.conf'), `name = ${host}\n`.repeat(2000));
    await writeFile(path.join(data, 'conf', 'sub', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o750 });
    await chmod(path.join(data, 'conf', 'sub', 'run.sh'), 0o750);
    await symlink('sub/run.sh', path.join(data, 'conf', 'current'));
    // Text and random bytes: compressible and not, with no final newline.
    await execa('sh', ['-c', `{ seq 1 200000; head -c 500000 /dev/urandom; printf end; } > '${data}/dump.bin'`]);
  }
  await execa('chmod', ['-R', 'a+rX', cluster.dir]);
  await cluster.writeRecipe(
    'app',
    `hosts: { group: app, run: all }
vars: { data: /nonexistent }
backup:
  snapshot:
    - name: dump
      run: cat {{vars.data}}/dump.bin
      output: dump.bin
    - name: dump as root with an env value
      run: printf '%s ' "$(id -un)" "$GREETING"; cat {{vars.data}}/conf/app.conf
      become: true
      env: { GREETING: "it's $HOME" }
      output: root.txt
  collect:
    - path: "{{vars.data}}/conf"
      become: true
`,
  );
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
  await fleet?.stop();
});

/** What must not depend on the transport: every entry's path, type, mode, size, sha256, link. */
function entryFacts(meta: BackupMetadata) {
  // Hosts run in parallel, so entries land in the archive in either order.
  return meta.entries
    .map((e) => ({ path: e.path, type: e.type, mode: e.mode, size: e.size, sha256: e.sha256, linkpath: e.linkpath, error: e.error }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

function appHosts(meta: BackupMetadata): Record<string, ComponentHostRecord> {
  return Object.fromEntries(componentOf(meta, 'app').hosts.map((h) => [h.name, h]));
}

describe('compress: remote over SSH', () => {
  it('gives an archive whose entries equal those of the same run with local compression', async () => {
    const local = await cluster.apply(recipe('app'), ['--compress', 'local', '-f', 'tar.zst']);
    expect(local.exitCode, cliOutput(local)).toBe(0);
    const remote = await cluster.apply(recipe('app'), ['--compress', 'remote', '-f', 'tar.zst']);
    expect(remote.exitCode, cliOutput(remote)).toBe(0);

    const facts = entryFacts(remote.metadata!);
    expect(facts.filter((e) => e.path.endsWith('/dump.bin'))).toHaveLength(2);
    expect(facts.filter((e) => e.path.endsWith('/files' + cluster.dataDir('host2') + '/conf/current'))).toEqual([
      expect.objectContaining({ type: 'symlink', linkpath: 'sub/run.sh' }),
    ]);
    expect(facts).toEqual(entryFacts(local.metadata!));
    // Collected files keep their mtimes either way.
    const mtimes = (m: BackupMetadata) =>
      m.entries
        .filter((e) => e.path.includes('/files/'))
        .map((e) => `${e.path} ${e.mtime}`)
        .sort();
    expect(mtimes(remote.metadata!)).toEqual(mtimes(local.metadata!));

    // The effective transport per host is recorded; only remote compression records it.
    expect(Object.values(appHosts(remote.metadata!)).map((h) => h.transport)).toEqual(['zstd', 'zstd']);
    expect(Object.values(appHosts(local.metadata!)).map((h) => h.transport)).toEqual([undefined, undefined]);

    // The archive reads back with system tools, every sha256 as metadata.json says.
    await verifyWithSystemTools({ file: remote.archive!, meta: remote.metadata! }, path.join(cluster.dir, 'x-remote'));
    const root = await readFile(path.join(cluster.dir, 'x-remote/app/host1/root.txt'), 'utf8');
    expect(root).toBe(`root it's $HOME ${`name = host1\n`.repeat(2000)}`);
  }, 120_000);

  it('a failing command still fails its step with its exit code and stderr; a missing collect path still fails', async () => {
    await cluster.writeRecipe(
      'failing',
      `hosts: { group: app, run: first }
backup:
  snapshot:
    - name: breaks
      run: echo some output; echo "the dump broke" >&2; exit 5
      output: broken.txt
`,
    );
    await cluster.writeRecipe(
      'missing',
      `hosts: { group: app, run: first }
backup:
  collect:
    - path: /nonexistent/lsbackup-missing
`,
    );
    const r = await cluster.apply(recipe('app', 'failing', 'missing'), ['--compress', 'remote']);
    expect(r.exitCode, cliOutput(r)).toBe(2);
    const failing = hostOf(componentOf(r.metadata!, 'failing'), 'host1');
    expect(failing.status).toBe('failed');
    expect(failing.steps[0]).toMatchObject({ status: 'failed', exitCode: 5 });
    expect(failing.error).toBe("snapshot step 'breaks': exit code 5: the dump broke");
    const missing = hostOf(componentOf(r.metadata!, 'missing'), 'host1');
    expect(missing.steps[0]).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(missing.error).toContain('lsbackup: no such file or directory: /nonexistent/lsbackup-missing');
    // Exactly as without remote compression.
    const plain = await cluster.apply(recipe('app', 'failing', 'missing'), ['--compress', 'local']);
    for (const name of ['failing', 'missing']) {
      const { status, error, steps } = hostOf(componentOf(plain.metadata!, name), 'host1');
      expect({ status, error, steps: steps.map((s) => [s.status, s.exitCode, s.error]) }).toEqual({
        status: hostOf(componentOf(r.metadata!, name), 'host1').status,
        error: hostOf(componentOf(r.metadata!, name), 'host1').error,
        steps: hostOf(componentOf(r.metadata!, name), 'host1').steps.map((s) => [s.status, s.exitCode, s.error]),
      });
    }
    // Nothing of the failed output is kept.
    expect(r.metadata!.entries.filter((e) => e.path.startsWith('failing/'))).toEqual([]);
  }, 120_000);

  it('a host without zstd, or whose zstd sends something else, fails with one line naming the host', async () => {
    // PATHs for one step each: the shell tools, and no zstd / a "zstd" that only copies.
    const noZstd = path.join(cluster.dir, 'bin-no-zstd');
    const fakeZstd = path.join(cluster.dir, 'bin-fake-zstd');
    for (const bin of [noZstd, fakeZstd]) {
      await mkdir(bin, { recursive: true });
      for (const tool of ['sh', 'cat', 'yes']) await symlink((await execa('sh', ['-c', `command -v ${tool}`])).stdout, path.join(bin, tool));
    }
    await writeFile(path.join(fakeZstd, 'zstd'), '#!/bin/sh\nexec cat\n', { mode: 0o755 });
    await chmod(path.join(fakeZstd, 'zstd'), 0o755);
    // The fake zstd's command never ends (`yes`): unless lsbackup stops it once its stream does
    // not decompress, the step ends by its timeout instead, with another error.
    for (const [name, bin, command] of [
      ['nozstd', noZstd, 'cat /etc/hostname'],
      ['fakezstd', fakeZstd, 'yes lsbackup'],
    ] as const) {
      await cluster.writeRecipe(
        name,
        `hosts: { group: app, run: first }
backup:
  snapshot:
    - run: ${command}
      env: { PATH: ${bin} }
      timeout: 30
      output: out.txt
`,
      );
    }
    const r = await cluster.apply(recipe('app', 'nozstd', 'fakezstd'), ['--compress', 'remote']);
    expect(r.exitCode, cliOutput(r)).toBe(2);
    const noZstdHost = hostOf(componentOf(r.metadata!, 'nozstd'), 'host1');
    expect(noZstdHost.error).toBe(
      "snapshot step 'snapshot[0] cat /etc/hostname': exit code 127: compress: remote needs zstd on host host1: install the package 'zstd' there, or set lsbackup_compress=local for it",
    );
    const fakeHost = hostOf(componentOf(r.metadata!, 'fakezstd'), 'host1');
    expect(fakeHost.error).toMatch(
      /^snapshot step '[^']*': the zstd stream from host host1 did not decompress: 'zstd' exited with 1: .*(unknown header|unsupported format|not in zstd format)/,
    );
    expect(fakeHost.error!.split('\n')).toHaveLength(1);
    expect(r.metadata!.entries.filter((e) => /^(nozstd|fakezstd)\/host1\/out\.txt$/.test(e.path))).toEqual([]);
    expect(r.stdout + r.stderr).toContain('compress: remote needs zstd on host host1');
    expect(appHosts(r.metadata!).host1!.status).toBe('success');
  }, 120_000);
});

describe('compress: remote without zstd on this machine', () => {
  it('fails each streamed step with the package to install, and runs nothing on the host', async () => {
    // This machine's PATH holds node only: no zstd to decompress with.
    const bin = path.join(cluster.dir, 'bin-node-only');
    await mkdir(bin, { recursive: true });
    await symlink(process.execPath, path.join(bin, 'node'));
    const r = await runCli(['apply', ...recipe('app'), '-b', cluster.build, '-t', path.join(cluster.dir, 'no-local-zstd'), '--compress', 'remote', '--json'], {
      env: { ...cluster.env, PATH: bin },
    });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    const steps = r.stdout
      .split('\n')
      .filter((l) => l.includes('"type":"step.end"'))
      .map((l) => JSON.parse(l) as { step: string; error?: string });
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) {
      expect(step.error, step.step).toBe("'zstd' was not found; install the Debian package 'zstd' to decompress what hosts compressed (compress: remote)");
    }
  });
});

describe('where compression happens: host var > --compress > job > top-level config > local', () => {
  const planTransports = async (extra: string[], config?: string) => {
    const r = await runCli(['plan', ...recipe('app'), '-b', cluster.build, '--json', ...(config ? ['-c', config] : []), ...extra], { env: cluster.env });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    const components = jsonEvents<{ name: string; hosts: { host: string; transport: string }[] }>(r.stdout, 'plan.component');
    return Object.fromEntries(components.find((c) => c.name === 'app')!.hosts.map((h) => [h.host, h.transport]));
  };

  it('follows the precedence in plan, apply and run; plan says so in its text too', async () => {
    const config = path.join(cluster.dir, 'lsbackup.config.yaml');
    await writeFile(
      config,
      `compress: remote\ntargets: [${cluster.target}-run]\nbuild: ${cluster.build}\nrecipes: [${cluster.recipes}/app.yaml]\njobs:\n  nightly: { compress: local }\n  slow: {}\n`,
    );
    await cluster.hostVars('host1', { lsbackup_compress: 'remote' });
    try {
      expect(await planTransports([])).toEqual({ host1: 'zstd', host2: 'plain' });
      expect(await planTransports([], config)).toEqual({ host1: 'zstd', host2: 'zstd' });
      expect(await planTransports(['--compress', 'local'], config)).toEqual({ host1: 'zstd', host2: 'plain' });
      await cluster.hostVars('host1', { lsbackup_compress: 'local' });
      expect(await planTransports(['--compress', 'remote'])).toEqual({ host1: 'plain', host2: 'zstd' });
      const text = await runCli(['plan', ...recipe('app'), '-b', cluster.build, '--compress', 'remote'], { env: cluster.env });
      expect(text.stdout).toMatch(/host host1 \(ssh [^)]*\)\n/);
      expect(text.stdout).toMatch(/host host2 \(ssh [^)]*, streams compressed on the host: zstd -1\)\n/);

      // run: the job's compress beats the top level, --compress beats the job, the host var beats all.
      const run = async (job: string, extra: string[] = []) => {
        const before = new Set(await archivesIn(`${cluster.target}-run`));
        const r = await runCli(['run', '-c', config, '--job', job, ...extra], { env: cluster.env, timeoutMs: 120_000 });
        expect(r.exitCode, cliOutput(r)).toBe(0);
        const added = (await archivesIn(`${cluster.target}-run`)).filter((n) => !before.has(n));
        return appHosts(await readMetadata(path.join(`${cluster.target}-run`, added[0]!)));
      };
      const slow = await run('slow');
      expect([slow.host1!.transport, slow.host2!.transport]).toEqual([undefined, 'zstd']);
      const nightly = await run('nightly');
      expect([nightly.host1!.transport, nightly.host2!.transport]).toEqual([undefined, undefined]);
      const forced = await run('nightly', ['--compress', 'remote']);
      expect([forced.host1!.transport, forced.host2!.transport]).toEqual([undefined, 'zstd']);
    } finally {
      await cluster.hostVars('host1', {});
    }
  }, 180_000);

  it('an invalid lsbackup_compress stops apply and plan before anything runs, naming host and value', async () => {
    await cluster.hostVars('host2', { lsbackup_compress: 'fast' });
    try {
      const r = await cluster.apply(recipe('app'), []);
      expect(r.exitCode, cliOutput(r)).toBe(78);
      expect(r.stderr).toContain('Inventory variable lsbackup_compress must be local or remote; it is not on host host2 ("fast")');
      expect(r.archive).toBeUndefined();
      const plan = await runCli(['plan', ...recipe('app'), '-b', cluster.build], { env: cluster.env });
      expect(plan.exitCode).toBe(78);
      expect(plan.stderr).toContain('host2 ("fast")');
    } finally {
      await cluster.hostVars('host2', {});
    }
  });

  it('an unknown --compress value is a usage error', async () => {
    const r = await runCli(['apply', ...recipe('app'), '-b', cluster.build, '-t', cluster.target, '--compress', 'zstd'], { env: cluster.env });
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toMatch(/--compress <where>' argument 'zstd' is invalid\. Allowed choices are local, remote/);
  });
});

describe('compress: remote on a local host', () => {
  it('is ignored: nothing to save on a link that is not there', async () => {
    const local = await createCluster({ local: ['app'] });
    try {
      await local.writeRecipe('app', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hi\n      output: hi.txt\n');
      const r = await local.apply(local.recipes, ['--compress', 'remote']);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(hostOf(componentOf(r.metadata!, 'app'), 'localhost').transport).toBeUndefined();
      const stored = await storedBackup(local.target);
      expect(stored.meta.entries.find((e) => e.path === 'app/localhost/hi.txt')?.size).toBe(3);
    } finally {
      await local.cleanup();
    }
  });
});
