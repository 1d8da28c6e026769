/**
 * recipes/host-basics.yaml through the built CLI on two real sshd hosts (user lsbtest, sudo to
 * root). The hosts share this machine's filesystem, so each one's /etc/hosts and /etc/fstab are
 * files under the test's dir (host_vars `files` and `host_basics_restore_path`); nothing of the machine's
 * own /etc is written. Restore puts back only what host_basics_restore_path asks for, nothing by default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip, recipeTest } from '../helpers/recipe-test.js';

const recipe = shippedRecipe('host-basics');
const HOSTS = ['host1', 'host2'];
let fleet: Fleet;
let cluster: Cluster;

const etc = (host: string) => join(cluster.dir, 'hosts', host, 'etc');
const hostsFile = (host: string) => join(etc(host), 'hosts');
const fstab = (host: string) => join(etc(host), 'fstab');
const HOSTS_TEXT = (host: string) => `127.0.0.1\tlocalhost\n10.0.0.${host.slice(-1)}\t${host}.cluster ${host}\n`;
const FSTAB_TEXT = 'UUID=0a1b2c3d / ext4 errors=remount-ro 0 1\n';

/** Each host's files, and its host_vars; `restorePath` false leaves host_basics_restore_path at its default (empty). */
async function hostVars(restorePath: boolean): Promise<void> {
  for (const host of HOSTS) {
    await cluster.hostVars(host, { files: [hostsFile(host), fstab(host)], ...(restorePath ? { host_basics_restore_path: hostsFile(host) } : {}) });
  }
}

beforeAll(async () => {
  fleet = await startFleet({ hosts: 2 });
  cluster = await createCluster({ fleet, groups: { host1: ['linux'], host2: ['linux'] } });
  for (const host of HOSTS) {
    await mkdir(etc(host), { recursive: true });
    await writeFile(hostsFile(host), HOSTS_TEXT(host));
    await writeFile(fstab(host), FSTAB_TEXT);
  }
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  await cluster?.cleanup();
});

describe('host-basics recipe', () => {
  it('round-trips the marked hosts file through recipe test on every host, with host_basics_restore_path asking for it', async () => {
    await hostVars(true);
    await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env });
    for (const host of HOSTS) {
      expect(await readFile(hostsFile(host), 'utf8')).toBe(`${HOSTS_TEXT(host)}# lsbackup-recipe-test\n`);
      expect(await readFile(fstab(host), 'utf8')).toBe(FSTAB_TEXT);
      await writeFile(hostsFile(host), HOSTS_TEXT(host));
    }
  }, 600_000);

  it('recipe test without host_basics_restore_path stops at seed, naming the --var to give', async () => {
    await hostVars(false);
    const run = await recipeTest(recipe, ['-b', cluster.build], { env: cluster.env });
    expect(run.exitCode, cliOutput(run)).toBe(3);
    expect(run.stages.map((s) => `${s.stage} ${s.status}`)).toEqual(['validate success', 'seed failed']);
    expect(cliOutput(run)).toMatch(/puts a file back only on request: run recipe test with --var host-basics\.host_basics_restore_path=\/etc\/hosts/);
    for (const host of HOSTS) expect(await readFile(hostsFile(host), 'utf8')).toBe(HOSTS_TEXT(host));
  }, 600_000);

  it('a restore writes nothing unless asked, then only the path host_basics_restore_path names, as backed up', async () => {
    await hostVars(false);
    const archive = await cluster.backup(recipe);
    for (const host of HOSTS) {
      await writeFile(hostsFile(host), 'damaged\n');
      await writeFile(fstab(host), 'new disk layout\n');
    }
    const plain = await cluster.restore(archive);
    expect(plain.exitCode, cliOutput(plain)).toBe(0);
    for (const host of HOSTS) expect(await readFile(hostsFile(host), 'utf8')).toBe('damaged\n');

    await hostVars(true);
    const asked = await cluster.restore(archive);
    expect(asked.exitCode, cliOutput(asked)).toBe(0);
    for (const host of HOSTS) {
      expect(await readFile(hostsFile(host), 'utf8')).toBe(HOSTS_TEXT(host));
      expect(await readFile(fstab(host), 'utf8'), 'a file host_basics_restore_path does not name stays as it is').toBe('new disk layout\n');
    }
  }, 600_000);

  it('the package list is content-addressed: an incremental with no package changed refers to the full for it, on every host', async () => {
    await hostVars(false);
    const full = await cluster.apply(recipe, ['--full']);
    expect(full.exitCode, cliOutput(full)).toBe(0);
    const incr = await cluster.apply(recipe, ['--incremental']);
    expect(incr.exitCode, cliOutput(incr)).toBe(0);
    for (const host of HOSTS) {
      const packages = (m: BackupMetadata) => m.entries.find((e) => e.path === `host-basics/${host}/packages.tsv`);
      expect(packages(full.metadata!)!.size, host).toBeGreaterThan(0);
      expect(packages(incr.metadata!), host).toMatchObject({ ref: full.metadata!.backupId, sha256: packages(full.metadata!)!.sha256 });
    }
  }, 600_000);
});
