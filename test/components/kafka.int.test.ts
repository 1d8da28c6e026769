/**
 * recipes/kafka.yaml (with recipes/zookeeper.yaml for the znodes) through the built CLI
 * over SSH on two hosts (sshd fleet).
 * STAND-IN: each Kafka broker is test/infra/standins/kafka.ts, imitating Kafka 2.6 (what it does
 * and does not imitate is written there): broker.id 0 listens at PLAINTEXT://<host1's address>:9092,
 * broker.id 1 at SSL://host2:9093 (LambdaStack's two listener forms); topics are replicated on
 * both, and a starting broker catches up from a running peer that leads a partition; a broker
 * refuses to start when meta.properties names another cluster than ZooKeeper's.
 * REAL: the ZooKeeper holding Kafka's znodes, run as a service (zookeeper-service.ts).
 * Every broker's and ZooKeeper's service call is logged, in order, so the test can prove the
 * brokers were stopped one at a time in a backup, all together in a restore (after ZooKeeper's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startKafkaStandIn, type KafkaStandIn } from '../infra/standins/kafka.js';
import { pathExists, runChecked } from '../infra/servers/common.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, RECIPES_DIR, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';
import { startZooKeeperService, type ZooKeeperService } from './zookeeper-service.js';

let fleet: Fleet;
let cluster: Cluster;
let zk: ZooKeeperService;
const brokers: Record<string, KafkaStandIn> = {};
let eventsLog: string;
let zkService: string;

beforeAll(async () => {
  fleet = await startFleet({ hosts: 2 });
  cluster = await createCluster({ fleet, groups: { host1: ['kafka', 'zookeeper'], host2: ['kafka'] } });
  const zkBase = join(cluster.dir, 'zk');
  await mkdir(zkBase);
  zk = await startZooKeeperService(zkBase);
  await zk.start();
  eventsLog = join(cluster.dir, 'service-events.log');
  await writeFile(eventsLog, '');
  zkService = await loggedService('zk', zk.script);
  const liveBrokersDir = join(cluster.dir, 'live-brokers');
  const topics = {
    orders: { partitions: 2, replicas: [0, 1], config: { 'retention.ms': '86400000' }, records: ['orders-1', 'orders-2'] },
    payments: { partitions: 1, replicas: [1, 0], records: ['payments-1', 'payments-2'] },
  };
  const host1 = fleet.hosts.find((h) => h.name === 'host1')!;
  brokers.host1 = await startKafkaStandIn({ zookeeper: zk.zk, brokerId: 0, listener: `PLAINTEXT://${host1.address}:9092`, liveBrokersDir, topics });
  brokers.host2 = await startKafkaStandIn({ zookeeper: zk.zk, brokerId: 1, listener: 'SSL://host2:9093', liveBrokersDir, topics });
  for (const host of ['host1', 'host2']) await cluster.hostVars(host, hostVars(host, await loggedService(host, brokers[host]!.serviceScript)));
}, 300_000);

/** A service script that logs "<who> <action>" to the events log, then runs the real one. */
async function loggedService(who: string, script: string): Promise<string> {
  const logged = join(cluster.dir, `service-${who}`);
  await writeFile(logged, `#!/bin/sh\necho "${who} $1" >> '${eventsLog}'\nexec '${script}' "$@"\n`, { mode: 0o755 });
  return logged;
}

function hostVars(host: string, service: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const vars: Record<string, unknown> = {
    kafka_data_dir: brokers[host]!.dataDir,
    kafka_config_dir: brokers[host]!.configDir,
    kafka_bin_dir: brokers[host]!.binDir,
    kafka_service_stop: `${service} stop`,
    kafka_service_start: `${service} start`,
    kafka_service_status: `${service} status`,
    kafka_version_command: 'echo 2.6.0',
    ...overrides,
  };
  if (host === 'host1') {
    Object.assign(vars, {
      zk_conf_dir: zk.zk.configDir,
      zk_data_dir: zk.zk.dataDir,
      zk_service_start: `${zkService} start`,
      zk_service_stop: `${zkService} stop`,
      zk_version_command: 'echo 3.8.0',
    });
  }
  return vars;
}

afterAll(async () => {
  for (const b of Object.values(brokers)) await b.stop();
  await zk?.stop();
  await fleet?.stop();
  await cluster?.cleanup();
});

async function events(): Promise<string[]> {
  return (await readFile(eventsLog, 'utf8')).split('\n').filter(Boolean);
}
const brokerEvents = async () => (await events()).filter((e) => !e.startsWith('zk '));

/** Replays stop/start events and returns the most brokers ever down at once. */
function maxDownAtOnce(lines: string[]): number {
  const down = new Set<string>();
  let max = 0;
  for (const line of lines) {
    const [host, action] = line.split(' ');
    if (action === 'stop') down.add(host!);
    if (action === 'start') down.delete(host!);
    max = Math.max(max, down.size);
  }
  return max;
}

/** The restore's broker events: every broker stopped before any started again, each once. */
function inStep(lines: string[]): boolean {
  const stops = lines
    .filter((l) => l.endsWith(' stop'))
    .map((l) => l.split(' ')[0])
    .sort();
  const starts = lines
    .filter((l) => l.endsWith(' start'))
    .map((l) => l.split(' ')[0])
    .sort();
  const lastStop = lines.map((l) => l.endsWith(' stop')).lastIndexOf(true);
  const firstStart = lines.findIndex((l) => l.endsWith(' start'));
  return stops.join() === 'host1,host2' && starts.join() === 'host1,host2' && lastStop < firstStart;
}

const state = async () => Object.fromEntries(await Promise.all(Object.entries(brokers).map(async ([h, b]) => [h, await b.state()])));
const ROLLING = ['host1 status', 'host1 stop', 'host1 start', 'host2 status', 'host2 stop', 'host2 start'];
/** zookeeper's restore on host1, where a broker runs: the broker stops before ZooKeeper and starts after it. */
const ZK_RESTORE = ['host1 status', 'host1 stop', 'zk stop', 'zk start', 'host1 start'];

/**
 * Wipes ZooKeeper's data and starts it empty (a rebuilt ZooKeeper), then restarts the brokers:
 * the first makes a new cluster id and both refuse it, as Kafka 2.6 does, since their
 * meta.properties name the old one. Returns the new cluster id.
 */
async function rebuildZooKeeper(): Promise<string> {
  await zk.stop();
  await rm(zk.zk.dataDir, { recursive: true });
  await mkdir(zk.zk.dataDir);
  await zk.start();
  for (const b of Object.values(brokers)) {
    await runChecked(b.serviceScript, ['stop']);
    await expect(runChecked(b.serviceScript, ['start'])).rejects.toThrow(/InconsistentClusterIdException/);
  }
  return JSON.parse(await zk.znodeData('/cluster/id')).id;
}

describe('kafka recipe', () => {
  let archive: string;
  let clusterId: string | undefined;

  it('copies each broker with it stopped, one broker at a time, reaching it at its listener, and starts it again', async () => {
    clusterId = await brokers.host1!.clusterId();
    expect(clusterId).toBeDefined();
    expect(await brokers.host2!.clusterId()).toBe(clusterId);
    const r = await cluster.apply(RECIPES_DIR, ['--only', 'kafka,zookeeper']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    archive = r.archive!;
    expect(await brokerEvents()).toEqual(ROLLING);
    expect(maxDownAtOnce(await events())).toBe(1);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
  }, 300_000);

  it('starts the broker again when the copy fails (post-step), and still does the next one', async () => {
    await writeFile(eventsLog, '');
    await cluster.hostVars('host1', hostVars('host1', join(cluster.dir, 'service-host1'), { kafka_config_dir: join(cluster.dir, 'no-such-config') }));
    try {
      const r = await cluster.apply(RECIPES_DIR, ['--only', 'kafka']);
      expect(r.exitCode, cliOutput(r)).toBe(2); // partial: host1 failed, host2 saved
      expect(r.stdout + r.stderr).toMatch(/no-such-config\/server\.properties: No such file or directory|no listeners= line/);
    } finally {
      await cluster.hostVars('host1', hostVars('host1', join(cluster.dir, 'service-host1')));
    }
    // host1's pre-step could not read its listener, so it never stopped; post still started it.
    expect(await brokerEvents()).toEqual(['host1 start', ...ROLLING.slice(3)]);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
  }, 300_000);

  it('refuses to stop a broker holding a partition with replication factor 1, unless kafka_allow_downtime is true', async () => {
    // A topic created with LambdaStack's default.replication.factor=1, on broker 1 only.
    await zk.zk.zkCliBatch([
      `create /brokers/topics/audit '${JSON.stringify({ version: 2, partitions: { 0: [1] }, adding_replicas: {}, removing_replicas: {} })}'`,
    ]);
    await mkdir(join(brokers.host2!.dataDir, 'audit-0'));
    try {
      await writeFile(eventsLog, '');
      const refused = await cluster.apply(RECIPES_DIR, ['--only', 'kafka']);
      expect(refused.exitCode, cliOutput(refused)).toBe(2);
      expect(cliOutput(refused)).toMatch(
        /refusing to stop broker 1: 1 partition\(s\) would go offline, having no other in-sync replica: audit-0 \(replication factor 1\)\. .*--var kafka\.kafka_allow_downtime=true/,
      );
      expect(await brokerEvents()).toEqual([...ROLLING.slice(0, 4), 'host2 start']); // host2 never stopped
      expect(await state()).toEqual({ host1: 'running', host2: 'running' });

      await writeFile(eventsLog, '');
      const allowed = await cluster.apply(RECIPES_DIR, ['--only', 'kafka', '--var', 'kafka.kafka_allow_downtime=true']);
      expect(allowed.exitCode, cliOutput(allowed)).toBe(0);
      expect(await brokerEvents()).toEqual(ROLLING);
    } finally {
      await zk.zk.zkCliBatch(['delete /brokers/topics/audit']);
      await rm(join(brokers.host2!.dataDir, 'audit-0'), { recursive: true });
    }
  }, 600_000);

  // Records made after the backup are on both replicas: a broker restored and started while its
  // peer still ran would copy them back from that peer (the stand-in's follower catch-up).
  it('restores ZooKeeper first, then every broker stopped together, so replicated topics come back to the backup on every broker', async () => {
    expect(archive).toBeDefined();
    const topicZnode = await zk.znodeData('/brokers/topics/orders');
    const configZnode = await zk.znodeData('/config/topics/orders');
    // After the backup: new records, a topic config change and a new topic, which the restore must undo.
    for (const b of Object.values(brokers)) await b.produce('orders', 'after-backup');
    await zk.zk.zkCliBatch([
      `set /config/topics/orders '{"version":1,"config":{"retention.ms":"1"}}'`,
      `create /brokers/topics/late '{"version":2,"partitions":{"0":[0]}}'`,
    ]);
    await mkdir(join(brokers.host1!.dataDir, 'late-0'));
    await writeFile(join(brokers.host1!.dataDir, 'late-0', '00000000000000000000.log'), 'late-1\n');
    await writeFile(eventsLog, '');

    const r = await cluster.restore(archive);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    await zk.ready();
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
    for (const b of Object.values(brokers)) {
      expect(await b.records('orders')).toEqual(['orders-1', 'orders-2']);
      expect(await b.records('payments')).toEqual(['payments-1', 'payments-2']);
      expect(await b.clusterId()).toBe(clusterId);
    }
    const all = await events();
    // host1's broker (a ZooKeeper host) is stopped before ZooKeeper and stays stopped once it has
    // loaded the restored data: kafka's restore (it runs too) stops every broker and starts them on
    // their restored data (was: started by zookeeper's restore in between, on its newer data).
    expect(all.slice(0, 4)).toEqual(ZK_RESTORE.slice(0, 4));
    expect(
      all.slice(4).filter((e) => e.startsWith('host1 ')),
      all.join('\n'),
    ).toEqual(['host1 stop', 'host1 start']);
    expect(inStep(all.slice(4))).toBe(true);
    expect(cliOutput(r)).toContain("zookeeper: the Kafka broker on this host stays stopped: this run's kafka restore starts it on its restored data");
    expect(cliOutput(r), 'the plan says how the brokers go').toContain(
      'kafka with recipe kafka@1.4.0, all hosts in step (every host ends pre before any begins apply, and apply before any begins post), after zookeeper',
    );
    expect(await pathExists(join(brokers.host1!.dataDir, 'late-0'))).toBe(false);
    expect(await zk.znodeData('/brokers/topics/orders')).toBe(topicZnode);
    expect(await zk.znodeData('/config/topics/orders')).toBe(configZnode);
    expect(JSON.parse(configZnode).config).toEqual({ 'retention.ms': '86400000' });
  }, 600_000);

  // A broker left running while ZooKeeper's data goes back keeps its newer view (topics ZooKeeper
  // no longer has, ISR updates refused on znode versions that went back) and writes it into the
  // restored data once reconnected.
  it('restoring zookeeper alone stops the broker on its host before ZooKeeper and starts it once ZooKeeper has loaded the restored data', async () => {
    const backup = await cluster.backup(RECIPES_DIR, ['--only', 'zookeeper']);
    await zk.zk.zkCliBatch([`create /brokers/topics/after-zk-backup '{"version":2,"partitions":{"0":[0]}}'`]);
    await writeFile(eventsLog, '');

    const r = await cluster.restore(backup);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await events()).toEqual(ZK_RESTORE);
    expect(cliOutput(r)).toContain('zookeeper: stopped the Kafka broker on this host; it starts again once ZooKeeper has loaded the restored data');
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
    // Registered again in the restored ZooKeeper, which no longer has the topic made after its backup.
    expect(JSON.parse(await zk.znodeData('/brokers/ids/0')).endpoints).toEqual([`PLAINTEXT://${fleet.hosts.find((h) => h.name === 'host1')!.address}:9092`]);
    expect((await zk.zk.zkCli(['ls', '/brokers/topics'])).trim().split('\n').at(-1)).not.toContain('after-zk-backup');
  }, 600_000);

  it('starts every broker again when a put-back fails on one, and still restores the others', async () => {
    for (const b of Object.values(brokers)) await b.produce('orders', 'after-backup');
    await writeFile(eventsLog, '');
    // host1's configuration dir is a symbolic link when the put-back comes: restore never writes
    // through one, so that step fails on the host (a path the backup lacks is refused before any host).
    const conf = brokers.host1!.configDir;
    await rename(conf, `${conf}.aside`);
    await symlink(`${conf}.aside`, conf);
    let r: Awaited<ReturnType<Cluster['restore']>>;
    try {
      r = await cluster.restore(archive, ['--only', 'kafka']);
    } finally {
      await rm(conf);
      await rename(`${conf}.aside`, conf);
    }
    // The only component restored is partial (host1's configuration could not be put back): partial, exit 2, as a backup.
    expect(r.exitCode, cliOutput(r)).toBe(2);
    expect(cliOutput(r)).toMatch(/kafka +host2 +success/);
    expect(cliOutput(r)).toMatch(/apply step 'put the configuration back'.*symbolic link/);
    expect(inStep(await brokerEvents())).toBe(true);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
    expect(await brokers.host2!.records('orders')).toEqual(['orders-1', 'orders-2']);
  }, 600_000);

  it('restores into a rebuilt ZooKeeper: brokers that refused the new cluster id start with the restored one', async () => {
    expect(await rebuildZooKeeper()).not.toBe(clusterId);
    await writeFile(eventsLog, '');

    const r = await cluster.restore(archive);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    // The brokers refused the rebuilt ZooKeeper: none runs, none is stopped or started by zookeeper's restore.
    expect((await events()).slice(0, 3)).toEqual(['host1 status', 'zk stop', 'zk start']);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
    expect(JSON.parse(await zk.znodeData('/cluster/id')).id).toBe(clusterId);
    for (const b of Object.values(brokers)) expect(await b.records('orders')).toEqual(['orders-1', 'orders-2']);
  }, 600_000);

  it('restored alone into a ZooKeeper rebuilt and not restored, refuses with the fix, and joins its cluster id when told to', async () => {
    const rebuiltId = await rebuildZooKeeper();

    const refused = await cluster.restore(archive, ['--only', 'kafka']);
    expect(refused.exitCode, cliOutput(refused)).toBe(1);
    expect(cliOutput(refused)).toContain(`ZooKeeper's cluster id ${rebuiltId} is not the backup's ${clusterId}`);
    expect(cliOutput(refused)).toContain('--var kafka.kafka_adopt_cluster_id=true');

    const r = await cluster.restore(archive, ['--only', 'kafka', '--var', 'kafka.kafka_adopt_cluster_id=true']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
    for (const b of Object.values(brokers)) {
      expect(await b.clusterId()).toBe(rebuiltId);
      expect(await b.records('orders')).toEqual(['orders-1', 'orders-2']);
    }
  }, 900_000);

  it('round-trips through recipe test: the marker record deleted after the backup is readable again on every broker', async () => {
    await writeFile(eventsLog, '');
    // The recipe's tests: a replicated marker topic with one record, backed up, the record deleted
    // (kafka-delete-records.sh), restored, read back at each broker's listener.
    await expectRoundTrip(shippedRecipe('kafka'), ['-b', cluster.build], { env: cluster.env, timeoutMs: 900_000 });
    expect(JSON.parse(await zk.znodeData('/brokers/topics/lsbackup-recipe-test')).partitions).toEqual({ 0: [0, 1] });
    const lines = await brokerEvents();
    expect(lines.slice(0, ROLLING.length), 'the backup: one broker at a time').toEqual(ROLLING);
    expect(inStep(lines.slice(ROLLING.length)), `the restore: every broker stopped before any started\n${lines.join('\n')}`).toBe(true);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
    for (const b of Object.values(brokers)) expect(await b.records('lsbackup-recipe-test')).toEqual(['lsbackup-recipe-test']);
  }, 900_000);
});
