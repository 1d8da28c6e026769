#!/usr/bin/env node
/**
 * STAND-IN for Kafka 2.6's broker start/stop and some of its CLI tools (test/infra/standins/kafka.ts
 * writes the wrappers): `node kafka-broker-tool.mjs <config.json> service start|stop|status`,
 * `… topics --bootstrap-server H:P [--command-config F] --describe`,
 * `… topics … --create [--if-not-exists] --topic T --partitions P --replication-factor R`,
 * `… api-versions --bootstrap-server H:P [--command-config F]`,
 * `… producer --bootstrap-server H:P [--producer.config F] --topic T` (records: stdin lines),
 * `… consumer --bootstrap-server H:P [--consumer.config F] --topic T --from-beginning [--max-messages N]`,
 * `… delete-records --bootstrap-server H:P [--command-config F] --offset-json-file F`.
 * Everything is read from server.properties, as Kafka reads it, and from the real ZooKeeper.
 *
 * Imitated from Kafka 2.6 (core/src/main/scala/kafka/server/KafkaServer.scala, BrokerMetadataCheckpoint):
 *  - start: ZooKeeper's /cluster/id is read, or created with a new random id when absent; a
 *    meta.properties whose cluster.id differs refuses the start (InconsistentClusterIdException),
 *    as does one whose broker.id differs from server.properties (InconsistentBrokerIdException);
 *    a log dir without meta.properties gets one (version=0, broker.id, cluster.id). `.lock` is
 *    created when missing and never deleted (Kafka takes a file lock on it and leaves the file).
 *    The broker registers at /brokers/ids/<broker.id> and deregisters on stop.
 *  - clients reach the broker only at its listener (server.properties `listeners`), with the
 *    listener's protocol; an SSL listener needs a client config whose trust store is the broker's
 *    and, with ssl.client.auth=required, a key store.
 *  - `kafka-topics.sh --describe` prints Kafka 2.6's format; Isr = the replicas whose broker runs
 *    (the controller's view), Leader = the first of them or none.
 *  - follower catch-up: a starting broker's partitions that a running peer leads become the
 *    leader's log (catchUpFromLeaders).
 *  - topic creation: the replicas are the first R running brokers (refused when fewer run), the
 *    znodes are written and every replica gets the partition's log dir.
 *  - records: the console producer appends to partition 0 of every running replica (acks=all);
 *    the consumer reads the leader's partition 0 from its log start offset; delete-records moves
 *    the log start offset (-1: the high watermark) on every running replica and keeps it in
 *    `log-start-offset-checkpoint` ("topic partition offset" lines), where a restored log dir
 *    brings it back from.
 * NOT imitated: no process runs (state is a file) and no OS lock is held on `.lock`; the
 * registration is a persistent znode, not an ephemeral one; no replication while running
 * (records produced by the test are written to each replica by the test, by the console producer
 * to each running one); no controller, no leader epochs or high watermark (a deleted record's
 * segment line stays), records in partition 0 only, no consumer groups or offsets, no TLS
 * handshake (the client config is compared with the broker's, not used).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const [configFile, tool, ...args] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, 'utf8'));

function properties(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([^#=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

const server = properties(config.serverProperties);
const logDir = server['log.dirs'];
const brokerId = server['broker.id'];
const SEGMENT = '00000000000000000000';

/** zkCli with one command: { ok, out } (the data is the last line of its output). */
function zk(...command) {
  try {
    const out = execFileSync(config.zkCli, ['-server', server['zookeeper.connect'], ...command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = out.split('\n').filter((l) => l.trim() && !/^(WATCHER::|WatchedEvent )/.test(l));
    return { ok: true, out: lines.at(-1) ?? '' };
  } catch (e) {
    return { ok: false, out: String(e.stderr ?? e.message) };
  }
}
/** zkCli exits 0 on "Node does not exist" in some versions: tell the cases apart by the text. */
function zkGet(path) {
  const r = zk('get', path);
  if (!r.ok || /Node does not exist|NoNode/.test(r.out)) return undefined;
  return r.out;
}
function zkList(path) {
  const r = zk('ls', path);
  const m = r.ok ? /^\[(.*)\]$/.exec(r.out.trim()) : null;
  return m
    ? m[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

const state = () => (existsSync(config.stateFile) ? readFileSync(config.stateFile, 'utf8').trim() : 'stopped');
const fail = (message, code = 1) => {
  process.stderr.write(message + '\n');
  process.exit(code);
};

function service(action) {
  if (action === 'status') {
    if (state() === 'running') return console.log('kafka: running');
    console.log('kafka: stopped');
    process.exit(3);
  }
  if (action === 'stop') {
    if (state() === 'running') zk('delete', `/brokers/ids/${brokerId}`);
    rmSync(join(config.liveDir, brokerId), { force: true });
    writeFileSync(config.stateFile, 'stopped\n');
    return console.log('kafka: stopped');
  }
  if (action !== 'start') fail('usage: kafka-service start|stop|status', 64);
  if (state() === 'running') return console.log('kafka: already running');
  const znode = zkGet('/cluster/id');
  let clusterId = znode ? JSON.parse(znode).id : undefined;
  if (!clusterId) {
    clusterId = randomBytes(16).toString('base64url').slice(0, 22);
    zk('create', '/cluster', '');
    zk('create', '/cluster/id', JSON.stringify({ version: '1', id: clusterId }));
    const created = zkGet('/cluster/id'); // another broker may have created it first
    if (!created) fail(`kafka: Timed out waiting for connection to ZooKeeper ${server['zookeeper.connect']}`);
    clusterId = JSON.parse(created).id;
  }
  const metaFile = join(logDir, 'meta.properties');
  if (existsSync(metaFile)) {
    const meta = properties(metaFile);
    if (meta['broker.id'] !== brokerId) {
      fail(
        `kafka.common.InconsistentBrokerIdException: Configured broker.id ${brokerId} doesn't match stored broker.id ${meta['broker.id']} in meta.properties.`,
      );
    }
    if (meta['cluster.id'] && meta['cluster.id'] !== clusterId) {
      fail(
        `kafka.common.InconsistentClusterIdException: The Cluster ID ${clusterId} doesn't match stored clusterId Some(${meta['cluster.id']}) in meta.properties. The broker is trying to join the wrong cluster. Configured zookeeper.connect may be wrong.`,
      );
    }
  }
  writeFileSync(metaFile, `#\n#${new Date().toString()}\ncluster.id=${clusterId}\nversion=0\nbroker.id=${brokerId}\n`);
  if (!existsSync(join(logDir, '.lock'))) writeFileSync(join(logDir, '.lock'), '');
  const [protocol, address] = server.listeners.split('://');
  const [host, port] = address.split(/:(?=\d+$)/);
  const registration = JSON.stringify({
    listener_security_protocol_map: { [protocol]: protocol },
    endpoints: [server.listeners],
    jmx_port: -1,
    host,
    timestamp: String(Date.now()),
    port: Number(port),
    version: 4,
  });
  zk('create', '/brokers', '');
  zk('create', '/brokers/ids', '');
  zk('delete', `/brokers/ids/${brokerId}`);
  if (!zk('create', `/brokers/ids/${brokerId}`, registration).ok) fail(`kafka: could not register at /brokers/ids/${brokerId}`);
  catchUpFromLeaders();
  mkdirSync(config.liveDir, { recursive: true });
  writeFileSync(join(config.liveDir, brokerId), logDir);
  writeFileSync(config.stateFile, 'running\n');
  console.log('kafka: started');
}

/**
 * A starting broker is a follower of each partition another running broker leads: it truncates
 * its log to the leader's and fetches what it lacks, so its log becomes the leader's (what Kafka's
 * ReplicaFetcherThread ends with; here the leader's segment is copied). The leader is a running
 * peer holding the partition (here: having its directory; the lowest broker id); a partition no
 * running peer holds stays as it is. No ZooKeeper call: a start stays quick on a loaded machine.
 */
function catchUpFromLeaders() {
  const peers = existsSync(config.liveDir)
    ? readdirSync(config.liveDir)
        .filter((id) => id !== brokerId)
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const peerLogDirs = peers.map((id) => readFileSync(join(config.liveDir, id), 'utf8')).filter(Boolean);
  for (const dir of readdirSync(logDir)) {
    if (!/-\d+$/.test(dir)) continue;
    const leaderLog = peerLogDirs.map((d) => join(d, dir, `${SEGMENT}.log`)).find((f) => existsSync(f));
    if (leaderLog) copyFileSync(leaderLog, join(logDir, dir, `${SEGMENT}.log`));
  }
}

/** Kafka's clients: connect to --bootstrap-server with the client config's settings (`configOption`), or fail as they would. */
function connect(options, configOption = '--command-config') {
  const bootstrap = options['--bootstrap-server'];
  if (!bootstrap) fail('Missing required argument "[bootstrap-server]"');
  const client = options[configOption] ? properties(options[configOption]) : {};
  const [protocol, address] = server.listeners.split('://');
  const unreachable = () =>
    fail(
      `[AdminClient clientId=adminclient-1] Connection to node -1 (${bootstrap}) could not be established. Broker may not be available.\n` +
        'Error while executing topic command : org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment.',
    );
  if (bootstrap.split(',').every((b) => b !== address) || state() !== 'running') unreachable();
  if ((client['security.protocol'] ?? 'PLAINTEXT') !== protocol) unreachable();
  if (protocol === 'SSL') {
    const same = (k) => client[k] === server[k];
    if (!same('ssl.truststore.location') || !same('ssl.truststore.password')) {
      fail('org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed (the client does not trust the broker certificate)');
    }
    if (server['ssl.client.auth'] === 'required' && (!client['ssl.keystore.location'] || !same('ssl.keystore.password'))) {
      fail('org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed (the broker requires a client certificate)');
    }
  }
}

function parseOptions(list) {
  const out = {};
  for (let i = 0; i < list.length; i++) {
    if (list[i + 1] !== undefined && !list[i + 1].startsWith('--')) out[list[i]] = list[++i];
    else out[list[i]] = true;
  }
  return out;
}

function describeTopics() {
  const live = new Set(readdirSync(config.liveDir));
  for (const topic of zkList('/brokers/topics').sort()) {
    const assignment = JSON.parse(zkGet(`/brokers/topics/${topic}`) ?? '{"partitions":{}}').partitions;
    const configs = JSON.parse(zkGet(`/config/topics/${topic}`) ?? '{"config":{}}').config;
    const parts = Object.keys(assignment)
      .map(Number)
      .sort((a, b) => a - b);
    const rf = assignment[parts[0]]?.length ?? 0;
    console.log(
      `Topic: ${topic}\tPartitionCount: ${parts.length}\tReplicationFactor: ${rf}\tConfigs: ${Object.entries(configs)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    );
    for (const p of parts) {
      const replicas = assignment[p];
      const isr = replicas.filter((r) => live.has(String(r)));
      console.log(`\tTopic: ${topic}\tPartition: ${p}\tLeader: ${isr[0] ?? 'none'}\tReplicas: ${replicas.join(',')}\tIsr: ${isr.join(',')}`);
    }
  }
}

/** The running brokers: id -> log dir (the controller's view). */
function liveBrokers() {
  const ids = existsSync(config.liveDir) ? readdirSync(config.liveDir).sort((a, b) => Number(a) - Number(b)) : [];
  return new Map(ids.map((id) => [id, readFileSync(join(config.liveDir, id), 'utf8')]));
}

function createTopic(options) {
  const topic = options['--topic'];
  const partitions = Number(options['--partitions'] ?? 1);
  const live = liveBrokers();
  const rf = Number(options['--replication-factor'] ?? server['default.replication.factor'] ?? 1);
  if (zkGet(`/brokers/topics/${topic}`) !== undefined) {
    if (options['--if-not-exists']) return;
    fail(`Error while executing topic command : Topic '${topic}' already exists.`);
  }
  if (rf > live.size) fail(`Error while executing topic command : Replication factor: ${rf} larger than available brokers: ${live.size}.`);
  const replicas = [...live.keys()].slice(0, rf).map(Number);
  const assignment = Object.fromEntries(Array.from({ length: partitions }, (_, p) => [String(p), replicas]));
  for (const parent of ['/brokers', '/brokers/topics', '/config', '/config/topics']) zk('create', parent, '');
  zk('create', `/brokers/topics/${topic}`, JSON.stringify({ version: 2, partitions: assignment, adding_replicas: {}, removing_replicas: {} }));
  zk('create', `/config/topics/${topic}`, JSON.stringify({ version: 1, config: {} }));
  for (const id of replicas) {
    for (let p = 0; p < partitions; p++) {
      const dir = join(live.get(String(id)), `${topic}-${p}`);
      mkdirSync(dir, { recursive: true });
      for (const ext of ['.log', '.index', '.timeindex']) if (!existsSync(join(dir, SEGMENT + ext))) writeFileSync(join(dir, SEGMENT + ext), '');
    }
  }
  console.log(`Created topic ${topic}.`);
}

/** The running replicas' log dirs of a topic's partition 0, leader (lowest running id) first; fails as a client does on an unknown topic. */
function runningReplicas(topic) {
  const znode = zkGet(`/brokers/topics/${topic}`);
  if (znode === undefined) fail(`org.apache.kafka.common.errors.TimeoutException: Topic ${topic} not present in metadata after 60000 ms.`);
  const live = liveBrokers();
  return (JSON.parse(znode).partitions['0'] ?? [])
    .map(String)
    .filter((id) => live.has(id))
    .sort((a, b) => Number(a) - Number(b))
    .map((id) => live.get(id));
}

/** log-start-offset-checkpoint: version, count, then "topic partition offset" lines. */
function logStartOffsets(dir) {
  const file = join(dir, 'log-start-offset-checkpoint');
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(2).filter(Boolean) : [];
  return new Map(lines.map((l) => l.split(' ')).map(([t, p, o]) => [`${t} ${p}`, Number(o)]));
}
function setLogStartOffset(dir, topic, offset) {
  const offsets = logStartOffsets(dir);
  offsets.set(`${topic} 0`, offset);
  writeFileSync(join(dir, 'log-start-offset-checkpoint'), `0\n${offsets.size}\n${[...offsets].map(([k, o]) => `${k} ${o}\n`).join('')}`);
}
const logOf = (dir, topic) =>
  readFileSync(join(dir, `${topic}-0`, `${SEGMENT}.log`), 'utf8')
    .split('\n')
    .filter(Boolean);

function produce(options) {
  const topic = options['--topic'];
  const records = readFileSync(0, 'utf8').split('\n').filter(Boolean);
  for (const dir of runningReplicas(topic)) appendFileSync(join(dir, `${topic}-0`, `${SEGMENT}.log`), records.map((r) => r + '\n').join(''));
}

function consume(options) {
  const topic = options['--topic'];
  const [leader] = runningReplicas(topic);
  if (!options['--from-beginning']) fail('kafka-console-consumer stand-in: only --from-beginning is imitated', 64);
  const max = options['--max-messages'] === undefined ? Infinity : Number(options['--max-messages']);
  const records = leader
    ? logOf(leader, topic)
        .slice(logStartOffsets(leader).get(`${topic} 0`) ?? 0)
        .slice(0, max)
    : [];
  for (const r of records) console.log(r);
  process.stderr.write(`Processed a total of ${records.length} messages\n`);
}

function deleteRecords(options) {
  const { partitions } = JSON.parse(readFileSync(options['--offset-json-file'], 'utf8'));
  console.log('Executing records delete operation\nRecords delete operation completed:');
  for (const { topic, partition, offset } of partitions) {
    if (partition !== 0) fail('kafka-delete-records stand-in: only partition 0 is imitated', 64);
    const replicas = runningReplicas(topic);
    const low = offset === -1 ? logOf(replicas[0], topic).length : offset;
    for (const dir of replicas) setLogStartOffset(dir, topic, low);
    console.log(`partition: ${topic}-${partition}\tlow_watermark: ${low}`);
  }
}

const options = parseOptions(args);
if (tool === 'service') service(args[0]);
else if (tool === 'api-versions') {
  connect(options);
  console.log(`${options['--bootstrap-server']} (id: ${brokerId} rack: null) -> (\n\tProduce(0): 0 to 8 [usable: 8],\n)`);
} else if (tool === 'topics') {
  connect(options);
  if (options['--create']) createTopic(options);
  else if (options['--describe']) describeTopics();
  else fail('kafka-topics stand-in: only --describe and --create are imitated', 64);
} else if (tool === 'producer') {
  connect(options, '--producer.config');
  produce(options);
} else if (tool === 'consumer') {
  connect(options, '--consumer.config');
  consume(options);
} else if (tool === 'delete-records') {
  connect(options);
  deleteRecords(options);
} else fail(`kafka stand-in: unknown tool ${tool}`, 64);
