/**
 * recipes/kafka.yaml restored into a REBUILT cluster: new Kafka VMs, to which `lscli apply` gave
 * their own server.properties (roles/kafka templates/server.properties.j2: `listeners` on the VM's
 * own address, `zookeeper.connect` naming the new cluster's ZooKeeper). The backup's topic data
 * must come back; the backup's server.properties is the old brokers': put back, a new broker
 * listened where the old one did and registered in the OLD cluster's ZooKeeper — here, a staging
 * copy restored while the old cluster still runs, it joined the old cluster.
 * The new ZooKeeper is not restored (`--only kafka`): the brokers adopt its cluster id
 * (`kafka_adopt_cluster_id`), as docs/components/kafka.md says for a rebuilt ZooKeeper.
 *
 * STAND-IN: the Kafka 2.6 brokers (test/infra/standins/kafka.ts; it reads listeners, log.dirs and
 * zookeeper.connect from server.properties at start, as Kafka does).
 * REAL: two ZooKeeper 3.8 servers, one per cluster; sshd hosts, one per broker; the built CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaStandIn, type KafkaStandIn, type KafkaTopicSpec } from '../infra/standins/kafka.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { etcHosts, hostMountSetup } from '../helpers/lambdastack-hosts.js';
import { startZooKeeperService, type ZooKeeperService } from './zookeeper-service.js';

/** The fleet's loopback addresses start here (the brokers' listeners are set before it starts). */
const FIRST_OCTET = 90;
const OLD = ['host1', 'host2'];
const NEW = ['host3', 'host4'];
const HOSTS = [...OLD, ...NEW];
const RECORDS = ['order-1', 'order-2'];

let dir: string;
let fleet: Fleet;
const clusters: Cluster[] = [];
const zookeepers: ZooKeeperService[] = [];
const brokers: Record<string, KafkaStandIn> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-kafka-rebuilt-'));
  const address = (host: string) => `127.0.0.${FIRST_OCTET + HOSTS.indexOf(host)}`;
  for (const [c, hosts] of [OLD, NEW].entries()) {
    const zkBase = join(dir, `zk-${c}`);
    await mkdir(zkBase);
    const zk = await startZooKeeperService(zkBase);
    await zk.start();
    zookeepers.push(zk);
    const liveBrokersDir = join(dir, `live-brokers-${c}`);
    // The old cluster has a topic replicated on both brokers (so the backup may stop each in turn).
    const topics: Record<string, KafkaTopicSpec> = c === 0 ? { orders: { partitions: 1, replicas: [0, 1], records: RECORDS } } : {};
    for (const [id, host] of hosts.entries()) {
      brokers[host] = await startKafkaStandIn({ zookeeper: zk.zk, brokerId: id, listener: `PLAINTEXT://${address(host)}:9092`, liveBrokersDir, topics });
    }
  }
  // Each broker at LambdaStack's paths on its own host (roles/kafka: /opt/kafka linked to the release).
  const libs = join(dir, 'kafka-libs');
  await mkdir(libs);
  await writeFile(join(libs, 'kafka_2.12-2.6.0.jar'), '');
  const hostsFile = join(dir, 'etc-hosts');
  await writeFile(hostsFile, etcHosts(HOSTS.map((name) => ({ name, address: address(name) }))));
  const setups = HOSTS.map((host) =>
    hostMountSetup(
      {
        name: host,
        dir: join(dir, 'hosts', host),
        binds: [
          ['/opt/kafka/config', brokers[host]!.configDir],
          ['/opt/kafka/bin', brokers[host]!.binDir],
          ['/opt/kafka/libs', libs],
          ['/var/lib/kafka', brokers[host]!.dataDir],
        ],
        links: [['/opt/kafka', '/opt/kafka_2.12-2.6.0']],
        hide: [],
        units: { kafka: brokers[host]!.serviceScript },
      },
      hostsFile,
    ),
  );
  fleet = await startFleet({ hosts: HOSTS.length, firstOctet: FIRST_OCTET, mountSetup: (name) => setups[HOSTS.indexOf(name)]! });
  for (const hosts of [OLD, NEW]) clusters.push(await createCluster({ fleet, groups: Object.fromEntries(hosts.map((h) => [h, ['kafka']])) }));
}, 300_000);

afterAll(async () => {
  for (const b of Object.values(brokers)) await b.stop();
  for (const zk of zookeepers) await zk.stop();
  await fleet?.stop();
  for (const c of clusters) await c.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kafka restored into a rebuilt cluster (new brokers, their own ZooKeeper)', () => {
  it("brings the topic data back, and each new broker keeps its own server.properties and registers in its own cluster's ZooKeeper", async () => {
    const [old, rebuilt] = clusters as [Cluster, Cluster];
    const archive = await old.backup(shippedRecipe('kafka'));
    const own = await Promise.all(NEW.map((h) => readFile(brokers[h]!.serverProperties, 'utf8')));

    const r = await rebuilt.restore(archive, ['--only', 'kafka', '--var', 'kafka.kafka_adopt_cluster_id=true', '--verbose']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await Promise.all(NEW.map((h) => readFile(brokers[h]!.serverProperties, 'utf8')))).toEqual(own);
    expect(r.stdout + r.stderr).toMatch(/keeps its own server\.properties/);
    for (const h of NEW) {
      expect(await brokers[h]!.state(), h).toBe('running');
      expect(await brokers[h]!.records('orders'), h).toEqual(RECORDS);
    }
    // Registered in the new cluster's ZooKeeper, under its cluster id.
    const [oldZk, newZk] = zookeepers as [ZooKeeperService, ZooKeeperService];
    expect(await newZk.zk.zkCli(['ls', '/brokers/ids'])).toMatch(/^\[0, 1\]$/m);
    const newId = JSON.parse(await newZk.znodeData('/cluster/id')).id;
    for (const h of NEW) expect(await brokers[h]!.clusterId(), h).toBe(newId);
    expect(newId).not.toBe(JSON.parse(await oldZk.znodeData('/cluster/id')).id);
  }, 900_000);
});
