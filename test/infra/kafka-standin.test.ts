// The Kafka broker here is a STAND-IN (test/infra/standins/kafka.ts); its ZooKeeper is real.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startKafkaStandIn, type KafkaStandIn } from './standins/kafka.js';
import { runChecked } from './servers/common.js';
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

describe('Kafka stand-in (real ZooKeeper)', () => {
  it("holds Kafka's znodes in the real ZooKeeper", async () => {
    expect(JSON.parse(await kafka.znode('/brokers/ids/0'))).toMatchObject({ host: '127.0.0.1', port: 9092 });
    expect(JSON.parse(await kafka.znode('/brokers/topics/orders')).partitions).toEqual({ 0: [0], 1: [0] });
    expect(JSON.parse(await kafka.znode('/config/topics/orders')).config).toEqual({ 'retention.ms': '86400000' });
    const out = await runChecked(join(kafka.binDir, 'zookeeper-shell.sh'), [kafka.zookeeper.connectString, 'ls', '/brokers/topics']);
    expect(out.stdout).toMatch(/\[orders\]/);
  });

  it('round-trips the log dir when copied with the broker stopped', async () => {
    expect(await kafka.state()).toBe('running');
    const archive = join(kafka.baseDir, 'logs.tar');
    await service('stop');
    await expect(kafka.produce('orders', 'lost')).rejects.toThrow(/stopped/);
    await expect(runChecked(kafka.serviceScript, ['status'])).rejects.toThrow(/exit 3/);
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

  it('refuses to start on a log dir that was copied while the broker ran', async () => {
    const archive = join(kafka.baseDir, 'live.tar');
    await tar(['-cf', archive, '-C', kafka.dataDir, '.']); // running: .lock is copied too
    await service('stop');
    await tar(['-xf', archive, '-C', kafka.dataDir]);
    await expect(service('start')).rejects.toThrow(/Failed to acquire lock/);
    expect(await kafka.state()).toBe('stopped');
  });

  it('stops its ZooKeeper and removes its files', async () => {
    await kafka.stop();
    await expectStoppedClean(kafka.zookeeper);
    await expectStoppedClean({ pid: kafka.zookeeper.pid, baseDir: kafka.baseDir });
  });
});
