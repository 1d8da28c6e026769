/**
 * recipes/kafka.yaml (with recipes/zookeeper.yaml for the znodes) through the built CLI
 * over SSH on two hosts (sshd fleet).
 * STAND-IN: each Kafka broker is test/infra/standins/kafka.ts (a broker log dir with
 * segments, server.properties and a `kafka-service` script); nothing Kafka runs here.
 * REAL: the ZooKeeper holding Kafka's znodes, run as a service (zookeeper-service.ts).
 * Each broker's service script is wrapped to log every stop/start, in order, so the test
 * can prove the brokers were stopped one at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startKafkaStandIn, type KafkaStandIn } from '../infra/standins/kafka.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, RECIPES_DIR, type Cluster } from '../helpers/cluster.js';
import { startZooKeeperService, type ZooKeeperService } from './zookeeper-service.js';

let fleet: Fleet;
let cluster: Cluster;
let zk: ZooKeeperService;
const brokers: Record<string, KafkaStandIn> = {};
let eventsLog: string;
const TOPIC_OF: Record<string, string> = { host1: 'orders', host2: 'payments' };

beforeAll(async () => {
  fleet = await startFleet({ hosts: 2 });
  cluster = await createCluster({ fleet, groups: { host1: ['kafka', 'zookeeper'], host2: ['kafka'] } });
  const zkBase = join(cluster.dir, 'zk');
  await mkdir(zkBase);
  zk = await startZooKeeperService(zkBase);
  await zk.start();
  eventsLog = join(cluster.dir, 'service-events.log');
  await writeFile(eventsLog, '');
  for (const host of ['host1', 'host2']) {
    const topic = TOPIC_OF[host]!;
    const broker = await startKafkaStandIn({
      zookeeper: zk.zk,
      topics: { [topic]: { partitions: 2, config: { 'retention.ms': '86400000' }, records: [`${topic}-1`, `${topic}-2`] } },
    });
    brokers[host] = broker;
    const service = join(cluster.dir, `kafka-service-${host}`);
    await writeFile(service, `#!/bin/sh\necho "${host} $1" >> '${eventsLog}'\nexec '${broker.serviceScript}' "$@"\n`, { mode: 0o755 });
    await cluster.hostVars(host, hostVars(host, service));
  }
}, 180_000);

function hostVars(host: string, service: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const vars: Record<string, unknown> = {
    kafka_data_dir: brokers[host]!.dataDir,
    kafka_config_dir: brokers[host]!.configDir,
    kafka_service_stop: `${service} stop`,
    kafka_service_start: `${service} start`,
    kafka_ready_command: `${service} status`,
    kafka_version_command: 'echo 2.8.1',
    ...overrides,
  };
  if (host === 'host1') {
    Object.assign(vars, {
      zk_conf_dir: zk.zk.configDir,
      zk_data_dir: zk.zk.dataDir,
      zk_service_start: `${zk.script} start`,
      zk_service_stop: `${zk.script} stop`,
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

const state = async () => Object.fromEntries(await Promise.all(Object.entries(brokers).map(async ([h, b]) => [h, await b.state()])));

describe('kafka recipe', () => {
  let archive: string;

  it('copies each broker with it stopped, one broker at a time, and starts it again', async () => {
    const r = await cluster.apply(RECIPES_DIR, ['--only', 'kafka,zookeeper']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    archive = r.archive!;
    expect(await events()).toEqual(['host1 stop', 'host1 start', 'host1 status', 'host2 stop', 'host2 start', 'host2 status']);
    expect(maxDownAtOnce(await events())).toBe(1);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
  }, 300_000);

  it('starts the broker again when the copy fails (post-step), and still does the next one', async () => {
    await writeFile(eventsLog, '');
    await cluster.hostVars('host1', hostVars('host1', join(cluster.dir, 'kafka-service-host1'), { kafka_config_dir: join(cluster.dir, 'no-such-config') }));
    try {
      const r = await cluster.apply(RECIPES_DIR, ['--only', 'kafka']);
      expect(r.exitCode, cliOutput(r)).toBe(2); // partial: host1 failed, host2 saved
      expect(r.stdout + r.stderr).toMatch(/no such file or directory/);
    } finally {
      await cluster.hostVars('host1', hostVars('host1', join(cluster.dir, 'kafka-service-host1')));
    }
    expect(await events()).toEqual(['host1 stop', 'host1 start', 'host1 status', 'host2 stop', 'host2 start', 'host2 status']);
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
  }, 300_000);

  it('restores segments and znodes after both were destroyed', async () => {
    expect(archive).toBeDefined();
    const topicZnode = await zk.znodeData('/brokers/topics/orders');
    const configZnode = await zk.znodeData('/config/topics/payments');
    // After the backup: new records and a topic config change, which the restore must undo.
    await brokers.host1!.produce('orders', 'after-backup');
    await zk.zk.zkCliBatch([`set /config/topics/payments '{"version":1,"config":{"retention.ms":"1"}}'`]);
    // Destroy: brokers stopped and their log dirs emptied; ZooKeeper's data wiped.
    for (const b of Object.values(brokers)) {
      await rm(b.dataDir, { recursive: true });
      await mkdir(b.dataDir);
    }
    await zk.stop();
    await rm(zk.zk.dataDir, { recursive: true });
    await mkdir(zk.zk.dataDir);
    await writeFile(eventsLog, '');

    const r = await cluster.restore(archive);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    await zk.ready();
    expect(await state()).toEqual({ host1: 'running', host2: 'running' });
    expect(maxDownAtOnce(await events())).toBe(1);
    expect(await brokers.host1!.records('orders')).toEqual(['orders-1', 'orders-2']);
    expect(await brokers.host2!.records('payments')).toEqual(['payments-1', 'payments-2']);
    expect(await brokers.host1!.records('orders', 1)).toEqual([]);
    expect(await zk.znodeData('/brokers/topics/orders')).toBe(topicZnode);
    expect(await zk.znodeData('/config/topics/payments')).toBe(configZnode);
    expect(JSON.parse(configZnode).config).toEqual({ 'retention.ms': '86400000' });
  }, 300_000);
});
