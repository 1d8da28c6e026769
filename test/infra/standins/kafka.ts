/**
 * STAND-IN for a Kafka broker: Kafka is not packaged anywhere reachable from this machine
 * (TEST-INFRA.md "Stand-ins"). What a Kafka recipe touches is real, though:
 *  - a REAL ZooKeeper holding Kafka's znodes: /brokers/ids/0, /brokers/topics/<t>,
 *    /config/topics/<t> (same JSON shapes Kafka writes);
 *  - a broker log dir (stands in for /var/lib/kafka) with per-partition directories and
 *    segment files (`00000000000000000000.log/.index/.timeindex`), `meta.properties`,
 *    checkpoint files, and `config/server.properties` (stands in for /opt/kafka/config);
 *  - `bin/kafka-service start|stop|status`, the service a recipe stops before copying and
 *    starts afterwards. State is a file. While "running" the log dir holds a `.lock`
 *    (as a live broker's does); `start` refuses a log dir that already has one — so a copy
 *    taken while running, once restored, is refused at start instead of silently used.
 *    `status` exits 0 when running and 3 when stopped (LSB).
 *  - `bin/zookeeper-shell.sh HOST:PORT [cmd…]`, as Kafka ships it.
 * Segment contents are opaque bytes (one record per line), not Kafka's binary batches.
 */
import { appendFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BaseServerOptions, prepareBaseDir, makeDirs, runChecked, pathExists } from '../servers/common.js';
import { startZooKeeper, writeZkCliScript, type ZooKeeperServer } from '../servers/zookeeper.js';

export interface KafkaTopicSpec {
  partitions?: number;
  /** Topic config (stored in /config/topics/<t>), e.g. { 'retention.ms': '604800000' }. */
  config?: Record<string, string>;
  /** Records appended to partition 0 at start. */
  records?: string[];
}

export interface KafkaStandInOptions extends BaseServerOptions {
  /** Use this ZooKeeper instead of starting one (it is then not stopped by stop()). */
  zookeeper?: ZooKeeperServer;
  topics?: Record<string, KafkaTopicSpec>;
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
  const dataDir = join(baseDir, 'var', 'lib', 'kafka');
  const configDir = join(baseDir, 'opt', 'kafka', 'config');
  const binDir = join(baseDir, 'bin');
  const runDir = join(baseDir, 'run');
  await makeDirs([dataDir, configDir, binDir, runDir]);
  const serverProperties = join(configDir, 'server.properties');
  await writeFile(serverProperties, [
    'broker.id=0',
    'listeners=PLAINTEXT://127.0.0.1:9092',
    `log.dirs=${dataDir}`,
    `zookeeper.connect=${zookeeper.connectString}`,
    'num.partitions=1',
    '',
  ].join('\n'));
  await writeFile(join(dataDir, 'meta.properties'), 'version=0\nbroker.id=0\n');

  const topics = opts.topics ?? {};
  const zkLines = ['create /brokers', 'create /brokers/ids', 'create /brokers/topics', 'create /config', 'create /config/topics'];
  zkLines.push(`create /brokers/ids/0 '${JSON.stringify({
    listener_security_protocol_map: { PLAINTEXT: 'PLAINTEXT' }, endpoints: ['PLAINTEXT://127.0.0.1:9092'],
    jmx_port: -1, host: '127.0.0.1', timestamp: String(Date.now()), port: 9092, version: 4,
  })}'`);
  for (const [topic, spec] of Object.entries(topics)) {
    const partitions = Object.fromEntries(Array.from({ length: spec.partitions ?? 1 }, (_, p) => [String(p), [0]]));
    zkLines.push(`create /brokers/topics/${topic} '${JSON.stringify({ version: 2, partitions, adding_replicas: {}, removing_replicas: {} })}'`);
    zkLines.push(`create /config/topics/${topic} '${JSON.stringify({ version: 1, config: spec.config ?? {} })}'`);
    for (let p = 0; p < (spec.partitions ?? 1); p++) {
      const dir = join(dataDir, `${topic}-${p}`);
      await mkdir(dir, { recursive: true });
      for (const ext of ['.log', '.index', '.timeindex']) await writeFile(join(dir, SEGMENT + ext), '');
      await writeFile(join(dir, 'leader-epoch-checkpoint'), '0\n1\n0 0\n');
    }
  }
  await zookeeper.zkCliBatch(zkLines);
  await writeCheckpoints(dataDir);

  const stateFile = join(runDir, 'kafka.state');
  const serviceScript = join(binDir, 'kafka-service');
  await writeFile(serviceScript, serviceScriptText(stateFile, dataDir), { mode: 0o755 });
  const zkShell = join(binDir, 'zookeeper-shell.sh');
  const zkCli = await writeZkCliScript(join(baseDir, 'libexec'), zookeeper.configDir);
  // Kafka's zookeeper-shell.sh takes the connect string as its first argument.
  await writeFile(zkShell, `#!/bin/sh\nserver="$1"; shift\nexec '${zkCli}' -server "$server" "$@"\n`, { mode: 0o755 });
  await runChecked(serviceScript, ['start']);

  const state = async () => ((await readFile(stateFile, 'utf8')).trim() === 'running' ? 'running' : 'stopped') as 'running' | 'stopped';
  const segment = (topic: string, partition: number) => join(dataDir, `${topic}-${partition}`, SEGMENT + '.log');
  const produce = async (topic: string, record: string, partition = 0) => {
    if ((await state()) !== 'running') throw new Error(`kafka stand-in: broker is stopped, cannot produce to ${topic}`);
    if (!(await pathExists(segment(topic, partition)))) throw new Error(`kafka stand-in: no partition ${topic}-${partition}`);
    if (record.includes('\n')) throw new Error('kafka stand-in: records are single lines');
    await appendFile(segment(topic, partition), record + '\n');
  };
  for (const [topic, spec] of Object.entries(topics)) for (const r of spec.records ?? []) await produce(topic, r);
  const records = async (topic: string, partition = 0) =>
    (await readFile(segment(topic, partition), 'utf8')).split('\n').filter((l) => l !== '');
  const znode = async (path: string) => {
    const out = await zookeeper.zkCli(['get', path]);
    // zkCli prints the data as the last non-empty line, after connection chatter.
    return out.trim().split('\n').at(-1) ?? '';
  };

  return {
    baseDir, zookeeper, dataDir, configDir, serverProperties, binDir, serviceScript, state, produce, records, znode,
    stop: async () => {
      if (!opts.zookeeper) await zookeeper.stop();
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    },
  };
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

function serviceScriptText(stateFile: string, dataDir: string): string {
  return `#!/bin/sh
# kafka-service: STAND-IN for the Kafka broker's systemd unit (test/infra/standins/kafka.ts).
state='${stateFile}'
logdir='${dataDir}'
case "$1" in
  start)
    if [ "$(cat "$state" 2>/dev/null)" = running ]; then echo "kafka: already running"; exit 0; fi
    if [ ! -f "$logdir/meta.properties" ]; then echo "kafka: $logdir/meta.properties missing, log dir not initialised" >&2; exit 1; fi
    if [ -e "$logdir/.lock" ]; then
      echo "kafka: Failed to acquire lock on file .lock in $logdir. A Kafka instance in another process or thread is using this directory (or it was copied while the broker was running)." >&2
      exit 1
    fi
    : > "$logdir/.lock"
    echo running > "$state"; echo "kafka: started" ;;
  stop)
    rm -f "$logdir/.lock"
    echo stopped > "$state"; echo "kafka: stopped" ;;
  status)
    if [ "$(cat "$state" 2>/dev/null)" = running ]; then echo "kafka: running"; exit 0; fi
    echo "kafka: stopped"; exit 3 ;;
  *) echo "usage: kafka-service start|stop|status" >&2; exit 64 ;;
esac
`;
}
