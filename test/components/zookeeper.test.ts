/**
 * recipes/zookeeper.yaml round trip on a REAL ZooKeeper 3.8, through the built CLI over SSH
 * (sshd fleet): znodes created -> backup -> data wiped -> restore -> znodes equal.
 * The service is a start/stop script around the real server (zookeeper-service.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { archiveEntries } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, RECIPES_DIR, type Cluster } from '../helpers/cluster.js';
import { startZooKeeperService, type ZooKeeperService } from './zookeeper-service.js';

let fleet: Fleet;
let cluster: Cluster;
let zk: ZooKeeperService;

beforeAll(async () => {
  fleet = await startFleet({ hosts: 1 });
  cluster = await createCluster({ fleet, groups: { host1: ['zookeeper'] } });
  const base = join(cluster.dir, 'zk');
  await mkdir(base);
  zk = await startZooKeeperService(base);
  await zk.start();
  await cluster.hostVars('host1', {
    zk_conf_dir: zk.zk.configDir,
    zk_data_dir: zk.zk.dataDir,
    zk_service_start: `${zk.script} start`,
    zk_service_stop: `${zk.script} stop`,
    zk_version_command: "dpkg-query -W -f='${Version}' zookeeper",
  });
}, 120_000);

afterAll(async () => {
  await zk?.stop();
  await fleet?.stop();
  await cluster?.cleanup();
});

describe('zookeeper recipe', () => {
  it('restores znodes after the data directory was wiped', async () => {
    await zk.zk.zkCliBatch(['create /app', 'create /app/config "colour=blue"', 'create /app/leader "node-7"']);
    expect(await zk.znodeData('/app/config')).toBe('colour=blue');

    const backup = await cluster.apply(RECIPES_DIR, ['--only', 'zookeeper']);
    expect(backup.exitCode, cliOutput(backup)).toBe(0);
    const archive = backup.archive!;
    const entries = await archiveEntries(archive);
    expect(entries).toContain(`zookeeper/host1/files${zk.zk.configFile}`);
    expect(entries.filter((e) => e.includes("/version-2/")), entries.join("\n")).toContainEqual(expect.stringMatching(/\/version-2\/log\.\d+$/));

    // Changes after the backup must not survive the restore (their txn logs are removed).
    await zk.zk.zkCliBatch(['set /app/config "colour=red"', 'create /app/late "x"']);
    await zk.stop();
    await rm(zk.zk.dataDir, { recursive: true });
    await mkdir(zk.zk.dataDir);

    const restore = await cluster.restore(archive);
    expect(restore.exitCode, cliOutput(restore)).toBe(0);
    await zk.ready();
    expect(await zk.znodeData('/app/config')).toBe('colour=blue');
    expect(await zk.znodeData('/app/leader')).toBe('node-7');
    expect(await zk.zk.zkCli(['ls', '/app'])).toMatch(/\[config, leader\]/);
    // The backup was started once by the test; the restore stopped, then started it.
    expect(await zk.calls()).toEqual(['start', 'stop', 'start']);
    expect((await readdir(join(zk.zk.dataDir, 'version-2'))).length).toBeGreaterThan(0);
  }, 300_000);
});
