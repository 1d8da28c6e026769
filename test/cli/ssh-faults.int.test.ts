/**
 * Faults of SSH hosts through the built CLI, against a real sshd fleet (test/fleet): dead and
 * hung hosts, a host dying in the middle of a big collect, authentication and host key
 * problems, sudo refusal, trust on first use, disabled host key checking, a bastion.
 * Each failure must stay on its own host, be one line naming the host, and leave an archive
 * whose every entry matches metadata.json.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { storedBackup, verifyWithSystemTools, type StoredBackup } from '../helpers/archive.js';
import { spawnCli, summaryRows } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const echoRecipe = (group: string) => `hosts: { group: ${group}, run: all }
vars: { data: /nonexistent }
backup:
  snapshot:
    - run: echo {{host.name}}
      output: name.txt
`;

function hostRecord(backup: StoredBackup, component: string, host: string) {
  const c = backup.meta.components.find((x) => x.name === component);
  return c?.hosts.find((h) => h.name === host);
}

/** The host's failure: one line, naming the host, the same in stderr and metadata. */
function expectOneLineCause(stderr: string, backup: StoredBackup, component: string, host: string, cause: RegExp): void {
  const record = hostRecord(backup, component, host);
  expect(record?.status).toBe('failed');
  expect(record!.error).not.toContain('\n');
  expect(record!.error).toContain(host);
  expect(record!.error).toMatch(cause);
  const line = stderr.split('\n').find((l) => l.startsWith(`  ${component} @ ${host}: failed`));
  expect(line, `stderr line for ${host}`).toBeDefined();
  expect(line).toMatch(cause);
}

describe('unreachable hosts', () => {
  let fleet: Fleet;
  let cluster: Cluster;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 3 });
    cluster = await createCluster({ fleet, groups: { host1: ['app'], host2: ['app'], host3: ['app'] }, dataDirs: true });
    await cluster.writeRecipe('names', echoRecipe('app'));
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await fleet?.stop(); // SIGCONTs the paused sshd before stopping it
  });

  it('a dead and a hung host fail only their own work; the archive is partial, exit 2', async () => {
    fleet.kill(1);
    fleet.pause(2);
    const r = await cluster.apply(cluster.recipes, ['--connect-timeout', '2']);
    expect(r.exitCode, r.stderr).toBe(2);
    const backup = await storedBackup(cluster.target);
    expect(backup.meta.status).toBe('partial');
    expect(hostRecord(backup, 'names', 'host1')?.status).toBe('success');
    expectOneLineCause(r.stderr, backup, 'names', 'host2', /connection refused by 127\.0\.0\.\d+:\d+/);
    expectOneLineCause(r.stderr, backup, 'names', 'host3', /timed out after 2 s connecting/);
    await verifyWithSystemTools(backup, path.join(cluster.dir, 'x'));
    expect(backup.meta.entries.map((e) => e.path).filter((p) => p.startsWith('names/'))).toEqual(['names/host1/name.txt']);
    expect(summaryRows(r.stdout).map((c) => c.slice(1, 3))).toEqual([
      ['host1', 'success'],
      ['host2', 'failed'],
      ['host3', 'failed'],
    ]);
  });
});

describe('a host that dies in the middle of a big collect', () => {
  let fleet: Fleet;
  let cluster: Cluster;
  const size = 256 * 1024 * 1024;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2 });
    cluster = await createCluster({ fleet, groups: { host1: ['app'], host2: ['app'] }, dataDirs: true });
    for (const h of fleet.hosts) {
      writeFileSync(path.join(cluster.dataDir(h.name), 'small.txt'), `${h.name}\n`);
    }
    // Incompressible, so the transfer takes long enough to be cut.
    execFileSync('sh', ['-c', `head -c ${size} /dev/urandom > ${path.join(cluster.dataDir('host2'), 'big.bin')}`]);
    await cluster.writeRecipe(
      'bulk',
      `hosts: { group: app, run: all }
vars: { data: /nonexistent }
backup:
  snapshot:
    - run: echo {{host.name}}
      output: name.txt
  collect:
    - path: "{{vars.data}}"
`,
    );
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await fleet?.stop();
  });

  it('leaves no corrupt entry: every entry matches its sha256, the cut file is absent or flagged', async () => {
    const run = spawnCli(['apply', cluster.recipes, '-b', cluster.build, '-t', cluster.target, '--json'], {
      env: cluster.env,
    });
    // Kill host2 (sshd and its session processes) once its collect is under way.
    let killed = false;
    const buffered: string[] = [];
    run.stdout!.on('data', (chunk: Buffer) => {
      buffered.push(chunk.toString());
      if (killed) return;
      const text = buffered.join('');
      if (/"type":"step\.start","component":"bulk","host":"host2","phase":"collect"/.test(text)) {
        killed = true;
        setTimeout(() => fleet.kill(1), 1500);
      }
    });
    const r = await run;
    expect(killed).toBe(true);
    expect(r.exitCode, String(r.stderr)).toBe(2);
    const backup = await storedBackup(cluster.target);
    expect(backup.meta.status).toBe('partial');
    expect(hostRecord(backup, 'bulk', 'host1')?.status).toBe('success');
    const host2 = hostRecord(backup, 'bulk', 'host2')!;
    expect(host2.status).toBe('failed');
    const collect = host2.steps.find((s) => s.phase === 'collect')!;
    expect(collect.status).toBe('failed');
    expect(collect.error).not.toContain('\n');
    expect(host2.error).toMatch(/collect step/);

    // The cut file is absent, or present and flagged so restore refuses it.
    const big = backup.meta.entries.find((e) => e.path.endsWith('/big.bin'));
    if (big) expect(big.error, 'a cut entry must be flagged').toBeTruthy();
    console.log(`host2 died mid-collect: ${host2.error}; big.bin entry: ${big ? JSON.stringify({ size: big.size, error: big.error }) : 'absent'}`);
    const out = await verifyWithSystemTools(backup, path.join(cluster.dir, 'x'));
    expect(readFileSync(path.join(out, 'bulk/host1/files', cluster.dataDir('host1'), 'small.txt'), 'utf8')).toBe('host1\n');
    expect(host2.bytes).toBeLessThan(size);
  });
});

describe('authentication, host keys and sudo', () => {
  let fleet: Fleet;
  let cluster: Cluster;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 5 });
    cluster = await createCluster({ fleet, groups: { host1: ['app'], host2: ['app'], host3: ['app'], host4: ['app'], host5: ['app'] }, dataDirs: true });
    const otherKey = path.join(cluster.dir, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    await cluster.hostVars('host2', { ansible_ssh_private_key_file: otherKey });
    await cluster.hostVars('host3', { ansible_user: 'nobody-here' });
    await cluster.hostVars('host5', { ansible_user: fleet.noSudoUser });
    await cluster.writeRecipe(
      'rooted',
      `hosts: { group: app, run: all }
vars: { data: /nonexistent }
become: true
backup:
  snapshot:
    - run: id -un
      output: whoami.txt
`,
    );
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await fleet?.stop();
  });

  it('wrong key, wrong user, changed host key, sudo refusal: each one line naming the host', async () => {
    const first = await cluster.apply(cluster.recipes, [], path.join(cluster.dir, 'first'));
    expect(hostRecord(await storedBackup(path.join(cluster.dir, 'first')), 'rooted', 'host4')?.status).toBe('success');

    const oldFingerprint = fleet.hosts[3]!.hostKeyFingerprint;
    await fleet.rekey(3);
    expect(fleet.hosts[3]!.hostKeyFingerprint).not.toBe(oldFingerprint);
    const r = await cluster.apply(cluster.recipes);
    expect(r.exitCode, r.stderr).toBe(2);
    const backup = await storedBackup(cluster.target);
    expect(backup.meta.status).toBe('partial');
    expect(hostRecord(backup, 'rooted', 'host1')?.status).toBe('success');
    expectOneLineCause(r.stderr, backup, 'rooted', 'host2', /authentication failed for user lsbtest with key .*other_key/);
    expectOneLineCause(r.stderr, backup, 'rooted', 'host3', /authentication failed for user nobody-here/);
    expectOneLineCause(
      r.stderr,
      backup,
      'rooted',
      'host4',
      new RegExp(`host key for 127\\.0\\.0\\.\\d+:\\d+ has CHANGED \\(now ${escape(fleet.hosts[3]!.hostKeyFingerprint)}`),
    );
    expectOneLineCause(
      r.stderr,
      backup,
      'rooted',
      'host5',
      /may not use sudo to become 'root'.*login user lsbnosudo|needs a password for become user 'root'.*login user lsbnosudo/,
    );
    await verifyWithSystemTools(backup, path.join(cluster.dir, 'x'));
    // The first run failed the same way for the other hosts (its host key was still the old one).
    expect(first.exitCode).toBe(2);
  });
});

describe('host key trust and checking, bastion', () => {
  let fleet: Fleet;
  let cluster: Cluster;
  let emptyKnownHosts: string;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2, bastion: true });
    cluster = await createCluster({ fleet, groups: { host1: ['app'], host2: ['app'] }, dataDirs: true });
    await cluster.writeRecipe('names', echoRecipe('app'));
  });
  afterEach(async () => {
    for (const h of fleet.hosts) await cluster.hostVars(h.name, {});
    const cfg = path.join(cluster.build, 'ansible.cfg');
    if (existsSync(cfg)) writeFileSync(cfg, '');
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await fleet?.stop();
  });
  const knownHostsArgs = (file: string) => ({ ansible_ssh_common_args: `-o UserKnownHostsFile=${file}` });

  it('refuses an unknown host key with its fingerprint and the --trust-new-host-keys hint; with it records the key', async () => {
    emptyKnownHosts = path.join(cluster.dir, 'known_hosts.tofu');
    writeFileSync(emptyKnownHosts, '');
    const h = fleet.hosts[0]!;
    await cluster.hostVars(h.name, knownHostsArgs(emptyKnownHosts));

    const refused = await cluster.apply(cluster.recipes, [], path.join(cluster.dir, 'refused'));
    expect(refused.exitCode).toBe(2);
    const backup = await storedBackup(path.join(cluster.dir, 'refused'));
    expectOneLineCause(
      refused.stderr,
      backup,
      'names',
      'host1',
      new RegExp(`unknown host key ${escape(h.hostKeyFingerprint)} for ${escape(h.address)}:${h.port}.*--trust-new-host-keys`),
    );

    const trusted = await cluster.apply(cluster.recipes, ['--trust-new-host-keys'], path.join(cluster.dir, 'trusted'));
    expect(trusted.exitCode, trusted.stderr).toBe(0);
    expect(readFileSync(emptyKnownHosts, 'utf8')).toContain(`[${h.address}]:${h.port} ${h.hostPublicKey}`);
    // The real ~/.ssh is never touched: HOME is the test's own, and it stays empty.
    expect(existsSync(path.join(cluster.home, '.ssh', 'known_hosts'))).toBe(false);

    const again = await cluster.apply(cluster.recipes, [], path.join(cluster.dir, 'again'));
    expect(again.exitCode, again.stderr).toBe(0);
  });

  it('with --trust-new-host-keys, a host that answers with a key of another type than the one on record is refused as changed, not recorded', async () => {
    // Another machine at host2's address, with an RSA key where known_hosts has host2's ed25519 one.
    const h = fleet.hosts[1]!;
    const onRecord = path.join(cluster.dir, 'known_hosts.other-type');
    const line = `[${h.address}]:${h.port} ${h.hostPublicKey}\n`;
    writeFileSync(onRecord, line);
    await cluster.hostVars(h.name, knownHostsArgs(onRecord));
    await fleet.rekey(1, 'rsa');
    try {
      const r = await cluster.apply(cluster.recipes, ['--trust-new-host-keys'], path.join(cluster.dir, 'other-type'));
      expect(r.exitCode, r.stderr).toBe(2);
      expectOneLineCause(
        r.stderr,
        await storedBackup(path.join(cluster.dir, 'other-type')),
        'names',
        'host2',
        new RegExp(`host key for ${escape(h.address)}:${h.port} has CHANGED \\(now ${escape(h.hostKeyFingerprint)}; ${escape(onRecord)}:1 has another key\\)`),
      );
      expect(readFileSync(onRecord, 'utf8'), 'the other key is not recorded').toBe(line);
    } finally {
      // The later tests trust the fleet's known_hosts: it gets host2's new key.
      writeFileSync(fleet.knownHosts, readFileSync(fleet.knownHosts, 'utf8').replace(line, `[${h.address}]:${h.port} ${h.hostPublicKey}\n`));
    }
  });

  it('StrictHostKeyChecking=no in ansible_ssh_common_args connects, with a warning', async () => {
    const empty = path.join(cluster.dir, 'known_hosts.empty');
    writeFileSync(empty, '');
    for (const h of fleet.hosts) {
      // As LambdaStack inventories have it, with the extra args they carry too.
      await cluster.hostVars(h.name, {
        ansible_ssh_common_args: `-o StrictHostKeyChecking=no -o UserKnownHostsFile=${empty}`,
        ansible_ssh_extra_args: '-o ServerAliveInterval=60 -o ServerAliveCountMax=1',
      });
    }
    const r = await cluster.apply(cluster.recipes, [], path.join(cluster.dir, 'strict-no'));
    expect(r.exitCode, r.stderr).toBe(0);
    for (const h of fleet.hosts) {
      expect(r.stderr).toContain(`warning @ ${h.name}: host key checking is disabled for ${h.address}:${h.port}`);
    }
    expect(readFileSync(empty, 'utf8')).toBe('');
  });

  it("host_key_checking = False in the build dir's ansible.cfg connects, with a warning", async () => {
    const empty = path.join(cluster.dir, 'known_hosts.empty2');
    writeFileSync(empty, '');
    for (const h of fleet.hosts) await cluster.hostVars(h.name, knownHostsArgs(empty));
    writeFileSync(path.join(cluster.build, 'ansible.cfg'), '[defaults]\nhost_key_checking = False\n');
    const r = await cluster.apply(cluster.recipes, [], path.join(cluster.dir, 'cfg-off'));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning @ host1: host key checking is disabled/);
  });

  it('reaches the hosts through a bastion (ProxyJump)', async () => {
    const b = fleet.bastion!;
    for (const h of fleet.hosts) {
      await cluster.hostVars(h.name, {
        ansible_ssh_common_args: `-o ProxyJump=${fleet.sudoUser}@${b.address}:${b.port} -o UserKnownHostsFile=${fleet.knownHosts}`,
      });
    }
    const r = await cluster.apply(cluster.recipes, [], path.join(cluster.dir, 'bastion'));
    expect(r.exitCode, r.stderr).toBe(0);
    const backup = await storedBackup(path.join(cluster.dir, 'bastion'));
    expect(
      backup.meta.entries
        .filter((e) => e.path.endsWith('name.txt'))
        .map((e) => e.path)
        .sort(),
    ).toEqual(['names/host1/name.txt', 'names/host2/name.txt']);
    // The bastion's sshd logged the forwarded connections to both hosts.
    const log = readFileSync(b.logFile, 'utf8');
    for (const h of fleet.hosts) expect(log).toContain(`direct_tcpip: originator 127.0.0.1 port 0, target ${h.address} port ${h.port}`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
