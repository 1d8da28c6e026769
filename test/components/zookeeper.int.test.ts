/**
 * recipes/zookeeper.yaml round trip on a REAL ZooKeeper 3.8, through the built CLI over SSH
 * (sshd fleet): znodes created -> backup -> more changes -> restore IN PLACE -> the znodes are
 * as backed up. Nothing is wiped by the test: the later changes live in transaction logs that the
 * recipe's own restore must remove, or ZooKeeper replays them. Two layouts: LambdaStack's
 * (zoo.cfg dataLogDir, transaction logs apart from the snapshots) and the default (both in the
 * data dir). The service is a start/stop script around the real server (zookeeper-service.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { archiveEntries } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, RECIPES_DIR, type Cluster } from '../helpers/cluster.js';
import { startZooKeeperService, type ZooKeeperService } from './zookeeper-service.js';

describe.each([
  { layout: "LambdaStack's (dataLogDir apart)", separateDataLogDir: true },
  { layout: 'the default (transaction logs in the data dir)', separateDataLogDir: false },
])('zookeeper recipe, $layout', ({ separateDataLogDir }) => {
  let fleet: Fleet;
  let cluster: Cluster;
  let zk: ZooKeeperService;

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
    cluster = await createCluster({ fleet, groups: { host1: ['zookeeper'] } });
    const base = join(cluster.dir, 'zk');
    await mkdir(base);
    zk = await startZooKeeperService(base, { separateDataLogDir });
    await zk.start();
    await cluster.hostVars('host1', {
      zk_conf_dir: zk.zk.configDir,
      zk_data_dir: zk.zk.dataDir,
      // LambdaStack's default (/var/log/zookeeper) where it is separate; a path without a
      // version-2 directory otherwise, as on a default install.
      zk_data_log_dir: separateDataLogDir ? zk.zk.dataLogDir : join(cluster.dir, 'no-separate-txnlog'),
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

  it('restores the znodes as backed up: changes made later are gone, not replayed from newer transaction logs', async () => {
    await zk.zk.zkCliBatch(['create /app', 'create /app/config "colour=blue"', 'create /app/leader "node-7"']);
    expect(await zk.znodeData('/app/config')).toBe('colour=blue');

    const backup = await cluster.apply(RECIPES_DIR, ['--only', 'zookeeper']);
    expect(backup.exitCode, cliOutput(backup)).toBe(0);
    const archive = backup.archive!;
    const entries = await archiveEntries(archive);
    expect(entries).toContain(`zookeeper/host1/files${zk.zk.configFile}`);
    const txnLogs = entries.filter((e) => e.startsWith(`zookeeper/host1/files${zk.zk.dataLogDir}/version-2/log.`));
    expect(txnLogs.length, `transaction logs from ${zk.zk.dataLogDir}\n${entries.join('\n')}`).toBeGreaterThan(0);

    // Changes after the backup: only in transaction logs newer than the backup.
    await zk.zk.zkCliBatch(['set /app/config "colour=red"', 'create /app/late "x"', 'delete /app/leader']);
    expect(await zk.znodeData('/app/config')).toBe('colour=red');

    const restore = await cluster.restore(archive);
    expect(restore.exitCode, cliOutput(restore)).toBe(0);
    await zk.ready();
    expect(await zk.znodeData('/app/config')).toBe('colour=blue');
    expect(await zk.znodeData('/app/leader')).toBe('node-7');
    expect(await zk.zk.zkCli(['ls', '/app'])).toMatch(/\[config, leader\]/);
    // The test started it once; the restore stopped, then started it.
    expect(await zk.calls()).toEqual(['start', 'stop', 'start']);
    expect((await readdir(join(zk.zk.dataLogDir, 'version-2'))).length).toBeGreaterThan(0);
  }, 300_000);
});
