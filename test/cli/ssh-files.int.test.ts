/**
 * `--known-hosts` and `--ssh-key` through the BUILT CLI against a real sshd fleet (test/fleet),
 * the way a container runs lsbackup (deploy/kubernetes/cronjob.yaml): the inventory comes from
 * the Ansible machine and names a key and a known_hosts file that do not exist here; the flags
 * say where the mounted ones are. A host not in the given known_hosts is refused, even when
 * ~/.ssh/known_hosts has it (the given file is the whole trust list).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { cliOutput, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const CLI_TIMEOUT_MS = 300_000;
/** Paths on the Ansible machine that wrote the inventory; absent here. */
const ANSIBLE_KEY = '/home/ops/.ssh/id_ed25519';
const ANSIBLE_KNOWN_HOSTS = '/home/ops/.ssh/known_hosts';

let fleet: Fleet;
let cluster: Cluster;

beforeAll(async () => {
  fleet = await startFleet({ hosts: 2 });
  cluster = await createCluster({ fleet, groups: { host1: ['app'], host2: ['app'] } });
  const inventory = path.join(cluster.build, 'inventory');
  writeFileSync(inventory, readFileSync(inventory, 'utf8').replaceAll(fleet.clientKey, ANSIBLE_KEY).replaceAll(fleet.knownHosts, ANSIBLE_KNOWN_HOSTS));
  await cluster.writeRecipe('names', 'hosts: { group: app, run: all }\nbackup:\n  snapshot:\n    - run: echo {{host.name}}\n      output: name.txt\n');
}, 120_000);
afterAll(async () => {
  await cluster?.cleanup();
  await fleet?.stop();
});

const flags = (knownHosts: string) => ['--known-hosts', knownHosts, '--ssh-key', fleet.clientKey];

describe('--known-hosts and --ssh-key', () => {
  it('apply reaches every host with the key and known_hosts given by flag, not the inventory ones', async () => {
    const without = await cluster.apply(cluster.recipes);
    expect(without.exitCode, cliOutput(without)).toBe(1);
    expect(without.stderr).toContain(`cannot read private key file ${ANSIBLE_KEY}`);

    const r = await cluster.apply(cluster.recipes, flags(fleet.knownHosts));
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.metadata!.entries.map((e) => e.path).sort()).toEqual(expect.arrayContaining(['names/host1/name.txt', 'names/host2/name.txt']));
  });

  it('refuses a host that is not in the given known_hosts, although ~/.ssh/known_hosts has it', async () => {
    const [host1, host2] = fleet.hosts;
    writeFileSync(path.join(cluster.home, '.ssh', 'known_hosts'), readFileSync(fleet.knownHosts));
    const onlyHost1 = path.join(cluster.dir, 'known_hosts.host1');
    writeFileSync(onlyHost1, `[${host1!.address}]:${host1!.port} ${host1!.hostPublicKey}\n`);
    const r = await cluster.apply(cluster.recipes, flags(onlyHost1));
    expect(r.exitCode, cliOutput(r)).toBe(2); // partial: host1 backed up, host2 refused
    expect(r.stderr).toContain(`unknown host key ${host2!.hostKeyFingerprint} for ${host2!.address}:${host2!.port} (not in ${onlyHost1})`);
    expect(r.metadata!.entries.map((e) => e.path)).toContain('names/host1/name.txt');
    expect(r.metadata!.entries.map((e) => e.path)).not.toContain('names/host2/name.txt');
  });

  it("refuses a host that is not in the given known_hosts also when the build dir's ansible.cfg turns host key checking off (LambdaStack's does)", async () => {
    const [host1, host2] = fleet.hosts;
    const onlyHost1 = path.join(cluster.dir, 'known_hosts.host1-cfg-off');
    writeFileSync(onlyHost1, `[${host1!.address}]:${host1!.port} ${host1!.hostPublicKey}\n`);
    const cfg = path.join(cluster.build, 'ansible.cfg');
    writeFileSync(cfg, '[defaults]\nhost_key_checking = False\n');
    try {
      const r = await cluster.apply(cluster.recipes, flags(onlyHost1));
      expect(r.exitCode, cliOutput(r)).toBe(2); // partial: host1 backed up, host2 refused
      expect(r.stderr).toContain(`unknown host key ${host2!.hostKeyFingerprint} for ${host2!.address}:${host2!.port} (not in ${onlyHost1})`);
      expect(r.stderr).not.toContain('host key checking is disabled');
      expect(r.metadata!.entries.map((e) => e.path)).not.toContain('names/host2/name.txt');
    } finally {
      rmSync(cfg);
    }
  });

  it('run --job takes them too (the CronJob command line)', async () => {
    const config = path.join(cluster.dir, 'lsbackup.config.yaml');
    writeFileSync(
      config,
      `apiVersion: lsbackup/v1\nkind: Config\nbuild: ${cluster.build}\nrecipes: [${cluster.recipes}]\ntargets:\n  - uri: ${cluster.target}\njobs:\n  nightly: {}\n`,
    );
    const r = await runCli(['run', '--config', config, '--job', 'nightly', ...flags(fleet.knownHosts)], { env: cluster.env, timeoutMs: CLI_TIMEOUT_MS });
    expect(r.exitCode, cliOutput(r)).toBe(0);
  });

  it('a --known-hosts or --ssh-key file that cannot be read is a usage error naming the flag, before any host is reached', async () => {
    const missing = path.join(cluster.dir, 'no-such-known_hosts');
    const r = await cluster.apply(cluster.recipes, flags(missing));
    expect(r.exitCode, cliOutput(r)).toBe(64);
    expect(r.stderr).toContain(`--known-hosts ${missing}: cannot read it (ENOENT)`);
    const key = await cluster.apply(cluster.recipes, ['--ssh-key', missing]);
    expect(key.exitCode, cliOutput(key)).toBe(64);
    expect(key.stderr).toContain(`--ssh-key ${missing}: cannot read it (ENOENT)`);
  });
});
