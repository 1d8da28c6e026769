// The Kafka broker here is a STAND-IN (test/infra/standins/kafka.ts); its ZooKeeper is real.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startKafkaStandIn, type KafkaStandIn } from './standins/kafka.js';
import { pathExists, runChecked } from './servers/common.js';
import { expectStoppedClean } from './assert-gone.js';

let kafka: KafkaStandIn;
beforeAll(async () => {
  kafka = await startKafkaStandIn({
    topics: { orders: { partitions: 2, config: { 'retention.ms': '86400000' }, records: ['o1', 'o2'] } },
  });
});
afterAll(async () => kafka?.stop());

const service = (cmd: string) => runChecked(kafka.serviceScript, [cmd]);
const tar = (args: string[]) => runChecked('tar', args);
const tool = (name: string, args: string[]) => runChecked(join(kafka.binDir, name), args);

describe('Kafka stand-in (real ZooKeeper)', () => {
  it("holds Kafka's znodes in the real ZooKeeper, and the cluster id in meta.properties", async () => {
    expect(JSON.parse(await kafka.znode('/brokers/ids/0'))).toMatchObject({ host: '127.0.0.1', port: 9092 });
    expect(JSON.parse(await kafka.znode('/brokers/topics/orders')).partitions).toEqual({ 0: [0], 1: [0] });
    expect(JSON.parse(await kafka.znode('/config/topics/orders')).config).toEqual({ 'retention.ms': '86400000' });
    const clusterId = JSON.parse(await kafka.znode('/cluster/id')).id;
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await kafka.clusterId()).toBe(clusterId);
    const out = await runChecked(join(kafka.binDir, 'zookeeper-shell.sh'), [kafka.zookeeper.connectString, 'ls', '/brokers/topics']);
    expect(out.stdout).toMatch(/\[orders\]/);
  });

  it('answers at its listener only, and describes topics as kafka-topics.sh 2.6 does', async () => {
    await expect(tool('kafka-topics.sh', ['--bootstrap-server', 'localhost:9092', '--describe'])).rejects.toThrow(
      /Connection to node -1 \(localhost:9092\) could not be established/,
    );
    const out = (await tool('kafka-topics.sh', ['--bootstrap-server', '127.0.0.1:9092', '--describe'])).stdout;
    expect(out).toBe(
      'Topic: orders\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=86400000\n' +
        '\tTopic: orders\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n' +
        '\tTopic: orders\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\n',
    );
    expect((await tool('kafka-broker-api-versions.sh', ['--bootstrap-server', '127.0.0.1:9092'])).stdout).toMatch(/^127\.0\.0\.1:9092 \(id: 0 rack: null\)/);
  });

  it('round-trips the log dir when copied with the broker stopped', async () => {
    expect(await kafka.state()).toBe('running');
    const archive = join(kafka.baseDir, 'logs.tar');
    await service('stop');
    await expect(kafka.produce('orders', 'lost')).rejects.toThrow(/stopped/);
    await expect(runChecked(kafka.serviceScript, ['status'])).rejects.toThrow(/exit 3/);
    await expect(tool('kafka-broker-api-versions.sh', ['--bootstrap-server', '127.0.0.1:9092'])).rejects.toThrow(/Broker may not be available/);
    await tar(['-cf', archive, '-C', kafka.dataDir, '.']);
    await service('start');
    await kafka.produce('orders', 'after-backup');
    expect(await kafka.records('orders')).toEqual(['o1', 'o2', 'after-backup']);

    await service('stop');
    await rm(kafka.dataDir, { recursive: true });
    await runChecked('mkdir', ['-p', kafka.dataDir]);
    await tar(['-xf', archive, '-C', kafka.dataDir]);
    await service('start');
    expect(await kafka.records('orders')).toEqual(['o1', 'o2']);
  });

  it('keeps .lock after a stop and starts on a log dir copied with it (Kafka locks the file, never deletes it)', async () => {
    const archive = join(kafka.baseDir, 'live.tar');
    await tar(['-cf', archive, '-C', kafka.dataDir, '.']); // running: .lock is copied too
    await service('stop');
    expect(await pathExists(join(kafka.dataDir, '.lock'))).toBe(true);
    await tar(['-xf', archive, '-C', kafka.dataDir]);
    await service('start');
    expect(await kafka.state()).toBe('running');
  });

  it('refuses to start when meta.properties names another cluster (InconsistentClusterIdException), and writes one when missing', async () => {
    const meta = join(kafka.dataDir, 'meta.properties');
    const clusterId = await kafka.clusterId();
    await service('stop');
    await writeFile(meta, 'version=0\nbroker.id=0\ncluster.id=AnotherClusterAAAAAAAAA\n');
    await expect(service('start')).rejects.toThrow(
      /InconsistentClusterIdException: The Cluster ID \S+ doesn't match stored clusterId Some\(AnotherClusterAAAAAAAAA\)/,
    );
    expect(await kafka.state()).toBe('stopped');
    await writeFile(meta, 'version=0\nbroker.id=7\n');
    await expect(service('start')).rejects.toThrow(/InconsistentBrokerIdException/);
    await rm(meta);
    await service('start');
    expect(await readFile(meta, 'utf8')).toMatch(new RegExp(`^cluster\\.id=${clusterId}$`, 'm'));
  });

  it('an SSL listener takes only clients with its trust store and a key store', async () => {
    const ssl = await startKafkaStandIn({ zookeeper: kafka.zookeeper, brokerId: 1, listener: 'SSL://broker-b:9093', topics: { orders: {} } });
    try {
      const props = await readFile(ssl.serverProperties, 'utf8');
      const value = (k: string) => new RegExp(`^${k.replace(/\./g, '\\.')}=(.*)$`, 'm').exec(props)![1]!;
      const client = join(ssl.baseDir, 'client.properties');
      const run = (args: string[]) => runChecked(join(ssl.binDir, 'kafka-broker-api-versions.sh'), ['--bootstrap-server', 'broker-b:9093', ...args]);
      await expect(run([])).rejects.toThrow(/could not be established/);
      await writeFile(
        client,
        `security.protocol=SSL\nssl.truststore.location=${value('ssl.truststore.location')}\nssl.truststore.password=${value('ssl.truststore.password')}\n`,
      );
      await expect(run(['--command-config', client])).rejects.toThrow(/requires a client certificate/);
      await writeFile(client, `ssl.keystore.location=${value('ssl.keystore.location')}\nssl.keystore.password=${value('ssl.keystore.password')}\n`, {
        flag: 'a',
      });
      expect((await run(['--command-config', client])).stdout).toMatch(/\(id: 1 rack: null\)/);
      // Both brokers registered; the shared cluster id is the one the first broker created.
      expect(await ssl.clusterId()).toBe(await kafka.clusterId());
      expect(JSON.parse(await ssl.znode('/brokers/ids/1'))).toMatchObject({ host: 'broker-b', port: 9093, endpoints: ['SSL://broker-b:9093'] });
    } finally {
      await ssl.stop();
    }
  });

  it("a starting follower copies the log of the running leader, as Kafka's replica fetcher ends with; with no running peer its own log stays", async () => {
    const live = join(kafka.baseDir, 'live-pair');
    const topics = { replicated: { replicas: [2, 3], records: ['r1'] } };
    const leader = await startKafkaStandIn({ zookeeper: kafka.zookeeper, brokerId: 2, listener: 'PLAINTEXT://127.0.0.2:9092', liveBrokersDir: live, topics });
    const follower = await startKafkaStandIn({ zookeeper: kafka.zookeeper, brokerId: 3, listener: 'PLAINTEXT://127.0.0.3:9092', liveBrokersDir: live, topics });
    try {
      await leader.produce('replicated', 'r2');
      await runChecked(follower.serviceScript, ['stop']);
      await runChecked(follower.serviceScript, ['start']);
      expect(await follower.records('replicated')).toEqual(['r1', 'r2']);
      // Both stopped: whoever starts first keeps its own log, and the other then follows it.
      await runChecked(leader.serviceScript, ['stop']);
      await runChecked(follower.serviceScript, ['stop']);
      await writeFile(join(follower.dataDir, 'replicated-0', '00000000000000000000.log'), 'r1\n');
      await runChecked(follower.serviceScript, ['start']);
      await runChecked(leader.serviceScript, ['start']);
      expect(await follower.records('replicated')).toEqual(['r1']);
      expect(await leader.records('replicated')).toEqual(['r1']);
    } finally {
      await leader.stop();
      await follower.stop();
    }
  });

  it('creates a topic on the running brokers, produces, consumes from the log start offset, which delete-records moves and a copied-back log dir restores', async () => {
    const bootstrap = ['--bootstrap-server', '127.0.0.1:9092'];
    const topic = ['--topic', 'marker'];
    const create = [...bootstrap, '--create', '--if-not-exists', ...topic, '--partitions', '1', '--replication-factor'];
    await expect(tool('kafka-topics.sh', [...create, '2'])).rejects.toThrow(/Replication factor: 2 larger than available brokers: 1/);
    expect((await tool('kafka-topics.sh', [...create, '1'])).stdout).toMatch(/Created topic marker\./);
    await tool('kafka-topics.sh', [...create, '1']); // --if-not-exists: there already
    expect(JSON.parse(await kafka.znode('/brokers/topics/marker')).partitions).toEqual({ 0: [0] });
    await runChecked(join(kafka.binDir, 'kafka-console-producer.sh'), [...bootstrap, ...topic], { input: 'm1\nm2\n' });
    const consume = async () =>
      (await tool('kafka-console-consumer.sh', [...bootstrap, ...topic, '--from-beginning', '--max-messages', '5'])).stdout.split('\n').filter(Boolean);
    expect(await consume()).toEqual(['m1', 'm2']);

    const archive = join(kafka.baseDir, 'marker.tar');
    await service('stop');
    await tar(['-cf', archive, '-C', kafka.dataDir, '.']);
    await service('start');
    const offsets = join(kafka.baseDir, 'offsets.json');
    await writeFile(offsets, JSON.stringify({ version: 1, partitions: [{ topic: 'marker', partition: 0, offset: -1 }] }));
    expect((await tool('kafka-delete-records.sh', [...bootstrap, '--offset-json-file', offsets])).stdout).toMatch(/partition: marker-0\tlow_watermark: 2/);
    expect(await consume()).toEqual([]);
    await service('stop');
    await tar(['-xf', archive, '-C', kafka.dataDir]);
    await service('start');
    expect(await consume()).toEqual(['m1', 'm2']);
  });

  it('stops its ZooKeeper and removes its files', async () => {
    await kafka.stop();
    await expectStoppedClean(kafka.zookeeper);
    await expectStoppedClean({ pid: kafka.zookeeper.pid, baseDir: kafka.baseDir });
  });
});
