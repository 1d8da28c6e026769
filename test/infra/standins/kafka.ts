/**
 * STAND-IN for a Kafka 2.6 broker (LambdaStack's version): Kafka is not packaged anywhere
 * reachable from this machine (test/infra/README.md "Stand-ins"). What a Kafka recipe touches is
 * real, though:
 *  - a REAL ZooKeeper holding Kafka's znodes: /cluster/id, /brokers/ids/<id>,
 *    /brokers/topics/<t> (replica assignment), /config/topics/<t> (same JSON shapes Kafka writes);
 *  - a broker log dir (stands in for /var/lib/kafka) with per-partition directories and
 *    segment files (`00000000000000000000.log/.index/.timeindex`), `meta.properties` (with
 *    `cluster.id`, as 2.6 writes it), checkpoint files, and `config/server.properties` (stands in
 *    for /opt/kafka/config; `broker.id`, `listeners`, `ssl.*` as LambdaStack's template writes them);
 *  - `bin/kafka-service start|stop|status` (the systemd unit), `bin/kafka-topics.sh --describe|--create`,
 *    `bin/kafka-broker-api-versions.sh`, `bin/kafka-console-producer.sh`, `bin/kafka-console-consumer.sh`,
 *    `bin/kafka-delete-records.sh` and `bin/zookeeper-shell.sh HOST:PORT [cmd…]`, laid out as
 *    /opt/kafka/bin. All but the last are kafka-broker-tool.mjs beside this file, which says what
 *    of Kafka 2.6 it imitates (cluster id and broker id checks, `.lock` kept, registration,
 *    reachable only at its listener, follower catch-up at start) and what it does not (no process, no replication while running,
 *    no TLS handshake).
 * Segment contents are opaque bytes (one record per line), not Kafka's binary batches.
 */
import { appendFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BaseServerOptions, prepareBaseDir, makeDirs, runChecked, pathExists } from '../servers/common.js';
import { startZooKeeper, writeZkCliScript, type ZooKeeperServer } from '../servers/zookeeper.js';

export interface KafkaTopicSpec {
  partitions?: number;
  /** Broker ids holding each partition (default: this broker only, replication factor 1). */
  replicas?: number[];
  /** Topic config (stored in /config/topics/<t>), e.g. { 'retention.ms': '604800000' }. */
  config?: Record<string, string>;
  /** Records appended to partition 0 at start. */
  records?: string[];
}

export interface KafkaStandInOptions extends BaseServerOptions {
  /** Use this ZooKeeper instead of starting one (it is then not stopped by stop()). */
  zookeeper?: ZooKeeperServer;
  topics?: Record<string, KafkaTopicSpec>;
  /** server.properties broker.id (default 0); brokers sharing a ZooKeeper need distinct ids. */
  brokerId?: number;
  /** server.properties listeners (default PLAINTEXT://127.0.0.1:9092). An SSL listener gets LambdaStack's ssl.* settings. */
  listener?: string;
  /** Where running brokers note their ids (the controller's view of live brokers): share it between the brokers of one cluster. */
  liveBrokersDir?: string;
}

export interface KafkaStandIn {
  baseDir: string;
  zookeeper: ZooKeeperServer;
  /** `log.dirs` (stands in for /var/lib/kafka). */
  dataDir: string;
  /** Stands in for /opt/kafka/config. */
  configDir: string;
  serverProperties: string;
  /** Directory to put first on a recipe's PATH: kafka-service, zookeeper-shell.sh. */
  binDir: string;
  serviceScript: string;
  brokerId: number;
  /** This broker's cluster id as meta.properties holds it (undefined before its first start). */
  clusterId(): Promise<string | undefined>;
  /** 'running' | 'stopped', from the service's state file. */
  state(): Promise<'running' | 'stopped'>;
  /** Appends a record to a partition's active segment (refused while stopped, like a down broker). */
  produce(topic: string, record: string, partition?: number): Promise<void>;
  /** The records of a partition, in order. */
  records(topic: string, partition?: number): Promise<string[]>;
  /** Reads a znode's data (zkCli get). */
  znode(path: string): Promise<string>;
  stop(): Promise<void>;
}

const SEGMENT = '00000000000000000000';

export async function startKafkaStandIn(opts: KafkaStandInOptions = {}): Promise<KafkaStandIn> {
  const { baseDir, ownedHere } = await prepareBaseDir('kafka', opts);
  const zookeeper = opts.zookeeper ?? (await startZooKeeper());
  try {
    return await setUp(baseDir, ownedHere, zookeeper, opts);
  } catch (e) {
    if (!opts.zookeeper) await zookeeper.stop();
    throw e;
  }
}

async function setUp(baseDir: string, ownedHere: boolean, zookeeper: ZooKeeperServer, opts: KafkaStandInOptions): Promise<KafkaStandIn> {
  const brokerId = opts.brokerId ?? 0;
  const listener = opts.listener ?? 'PLAINTEXT://127.0.0.1:9092';
  const dataDir = join(baseDir, 'var', 'lib', 'kafka');
  const configDir = join(baseDir, 'opt', 'kafka', 'config');
  const binDir = join(baseDir, 'bin');
  const runDir = join(baseDir, 'run');
  const sslDir = join(baseDir, 'var', 'private', 'ssl');
  await makeDirs([dataDir, configDir, binDir, runDir]);
  const serverProperties = join(configDir, 'server.properties');
  await writeFile(
    serverProperties,
    [
      `broker.id=${brokerId}`,
      `listeners=${listener}`,
      ...(listener.startsWith('SSL://') ? await sslSettings(sslDir) : []),
      `log.dirs=${dataDir}`,
      `zookeeper.connect=${zookeeper.connectString}`,
      'num.partitions=1',
      'default.replication.factor=1',
      '',
    ].join('\n'),
  );

  const topics = opts.topics ?? {};
  const zkLines = ['create /brokers', 'create /brokers/ids', 'create /brokers/topics', 'create /config', 'create /config/topics'];
  for (const [topic, spec] of Object.entries(topics)) {
    const replicas = spec.replicas ?? [brokerId];
    const partitions = Object.fromEntries(Array.from({ length: spec.partitions ?? 1 }, (_, p) => [String(p), replicas]));
    // A topic another broker created already is left as it is (create fails on an existing znode).
    zkLines.push(`create /brokers/topics/${topic} '${JSON.stringify({ version: 2, partitions, adding_replicas: {}, removing_replicas: {} })}'`);
    zkLines.push(`create /config/topics/${topic} '${JSON.stringify({ version: 1, config: spec.config ?? {} })}'`);
    if (!replicas.includes(brokerId)) continue;
    for (let p = 0; p < (spec.partitions ?? 1); p++) {
      const dir = join(dataDir, `${topic}-${p}`);
      await mkdir(dir, { recursive: true });
      // Records are in place before the broker starts (a starting follower copies its leader's log).
      const records = p === 0 ? (spec.records ?? []).map((r) => r + '\n').join('') : '';
      for (const ext of ['.log', '.index', '.timeindex']) await writeFile(join(dir, SEGMENT + ext), ext === '.log' ? records : '');
      await writeFile(join(dir, 'leader-epoch-checkpoint'), '0\n1\n0 0\n');
    }
  }
  await createZnodes(zookeeper, zkLines);
  await writeCheckpoints(dataDir);

  const stateFile = join(runDir, 'kafka.state');
  const zkCli = await writeZkCliScript(join(baseDir, 'libexec'), zookeeper.configDir);
  const toolConfig = join(runDir, 'kafka-broker-tool.json');
  await writeFile(toolConfig, JSON.stringify({ serverProperties, stateFile, zkCli, liveDir: opts.liveBrokersDir ?? join(runDir, 'live-brokers') }));
  const tool = (name: string, sub: string) =>
    writeFile(join(binDir, name), `#!/bin/sh\nexec '${process.execPath}' '${BROKER_TOOL}' '${toolConfig}' ${sub} "$@"\n`, { mode: 0o755 });
  await tool('kafka-service', 'service');
  await tool('kafka-topics.sh', 'topics');
  await tool('kafka-broker-api-versions.sh', 'api-versions');
  await tool('kafka-console-producer.sh', 'producer');
  await tool('kafka-console-consumer.sh', 'consumer');
  await tool('kafka-delete-records.sh', 'delete-records');
  const serviceScript = join(binDir, 'kafka-service');
  // Kafka's zookeeper-shell.sh takes the connect string as its first argument.
  await writeFile(join(binDir, 'zookeeper-shell.sh'), `#!/bin/sh\nserver="$1"; shift\nexec '${zkCli}' -server "$server" "$@"\n`, { mode: 0o755 });
  await runChecked(serviceScript, ['start']);

  const state = async () => ((await readFile(stateFile, 'utf8')).trim() === 'running' ? 'running' : 'stopped') as 'running' | 'stopped';
  const segment = (topic: string, partition: number) => join(dataDir, `${topic}-${partition}`, SEGMENT + '.log');
  const produce = async (topic: string, record: string, partition = 0) => {
    if ((await state()) !== 'running') throw new Error(`kafka stand-in: broker is stopped, cannot produce to ${topic}`);
    if (!(await pathExists(segment(topic, partition)))) throw new Error(`kafka stand-in: no partition ${topic}-${partition}`);
    if (record.includes('\n')) throw new Error('kafka stand-in: records are single lines');
    await appendFile(segment(topic, partition), record + '\n');
  };
  const records = async (topic: string, partition = 0) => (await readFile(segment(topic, partition), 'utf8')).split('\n').filter((l) => l !== '');
  const znode = async (path: string) => {
    const out = await zookeeper.zkCli(['get', path]);
    // zkCli prints the data as the last non-empty line, after connection chatter.
    return out.trim().split('\n').at(-1) ?? '';
  };
  const clusterId = async () => {
    const meta = await readFile(join(dataDir, 'meta.properties'), 'utf8').catch(() => '');
    return /^cluster\.id=(.*)$/m.exec(meta)?.[1];
  };

  return {
    baseDir,
    zookeeper,
    dataDir,
    configDir,
    serverProperties,
    binDir,
    serviceScript,
    brokerId,
    clusterId,
    state,
    produce,
    records,
    znode,
    stop: async () => {
      if (!opts.zookeeper) await zookeeper.stop();
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs zkCli `create` lines; a znode another broker created already is left as it is (zkCli
 * goes on after "Node already exists" and exits 1 at the end: only that failure is expected).
 */
async function createZnodes(zookeeper: ZooKeeperServer, lines: string[]): Promise<void> {
  try {
    await zookeeper.zkCliBatch(lines);
  } catch (e) {
    const problems = (e as Error).message.split('\n').filter((l) => /exists|Exception|rror/.test(l));
    if (!problems.every((l) => l.startsWith('Node already exists: '))) throw e;
  }
}

const BROKER_TOOL = fileURLToPath(new URL('./kafka-broker-tool.mjs', import.meta.url));

/**
 * LambdaStack's server.properties for an SSL listener (roles/kafka/templates/server.properties.j2):
 * key and trust stores under /var/private/ssl, their passwords, client certificates required.
 * The stores are placeholders: the stand-in compares a client's settings, it shakes no hands.
 */
async function sslSettings(sslDir: string): Promise<string[]> {
  await makeDirs([sslDir]);
  const keystore = join(sslDir, 'kafka.server.keystore.jks');
  const truststore = join(sslDir, 'kafka.server.truststore.jks');
  for (const f of [keystore, truststore]) await writeFile(f, 'stand-in key store\n', { mode: 0o600 });
  return [
    'security.inter.broker.protocol=SSL',
    'ssl.endpoint.identification.algorithm=HTTPS',
    `ssl.keystore.location=${keystore}`,
    'ssl.keystore.password=KeystorePass-1',
    `ssl.truststore.location=${truststore}`,
    'ssl.truststore.password=TruststorePass-1',
    'ssl.key.password=KeyPass-1',
    'ssl.client.auth=required',
  ];
}

/** recovery-point / replication-offset checkpoints: version, count, then "topic partition offset". */
async function writeCheckpoints(dataDir: string): Promise<void> {
  const parts = (await readdir(dataDir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && /-\d+$/.test(d.name))
    .map((d) => d.name.replace(/-(\d+)$/, ' $1 0'));
  const text = `0\n${parts.length}\n${parts.map((p) => p + '\n').join('')}`;
  for (const f of ['recovery-point-offset-checkpoint', 'replication-offset-checkpoint', 'log-start-offset-checkpoint']) {
    await writeFile(join(dataDir, f), text);
  }
}
