/**
 * recipes/zookeeper.yaml round trip on a REAL ZooKeeper 3.8, through the built CLI over SSH
 * (sshd fleet), by the recipe's own tests: section (`lsbackup recipe test`): a znode created ->
 * backup -> deleted -> restore IN PLACE -> the znode is back. Nothing is wiped: the delete lives in
 * a transaction log that the recipe's own restore must remove, or ZooKeeper replays it. Two layouts: LambdaStack's
 * (zoo.cfg dataLogDir, transaction logs apart from the snapshots) and the default (both in the
 * data dir). The service is a start/stop script around the real server (zookeeper-service.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';
import { startZooKeeperService, type ZooKeeperService } from './zookeeper-service.js';

const recipe = shippedRecipe('zookeeper');

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
      zk_cli: zk.zk.zkCliScript,
      zk_version_command: "dpkg-query -W -f='${Version}' zookeeper",
    });
  }, 120_000);

  afterAll(async () => {
    await zk?.stop();
    await fleet?.stop();
    await cluster?.cleanup();
  });

  it('round-trips through recipe test: the marker znode deleted after the backup is back, not deleted again from a newer transaction log', async () => {
    // The recipe's tests: create /lsbackup-recipe-test, back up, delete it (the delete lives only
    // in a transaction log newer than the backup), restore, read it back.
    // Its log in the failure: once in CI (under load) the restarted server never answered, and the
    // log, removed with the test's files, is the only record of why.
    const run = await expectRoundTrip(recipe, ['-b', cluster.build], { env: cluster.env }).catch(async (e: Error) => {
      const log = await readFile(zk.zk.logFile, 'utf8').catch((r: Error) => `(no log: ${r.message})`);
      throw new Error(`${e.message}\n--- ZooKeeper log, last 40 lines:\n${log.trimEnd().split('\n').slice(-40).join('\n')}`);
    });
    const entries = run.events.filter((e) => e.type === 'entry').map((e) => String(e.path));
    expect(entries).toContain(`zookeeper/host1/files${zk.zk.configFile}`);
    const txnLogs = entries.filter((e) => e.startsWith(`zookeeper/host1/files${zk.zk.dataLogDir}/version-2/log.`));
    expect(txnLogs.length, `transaction logs from ${zk.zk.dataLogDir}\n${entries.join('\n')}`).toBeGreaterThan(0);
    await zk.ready();
    expect(await zk.znodeData('/lsbackup-recipe-test')).toBe('lsbackup-recipe-test');
    // The test started it once; the restore stopped, then started it.
    expect(await zk.calls()).toEqual(['start', 'stop', 'start']);
    expect((await readdir(join(zk.zk.dataLogDir, 'version-2'))).length).toBeGreaterThan(0);
  }, 600_000);
});
