import { describe, it, expect } from 'vitest';
import { startRabbitmq } from './servers/rabbitmq.js';
import { expectStoppedClean } from './assert-gone.js';
import { dirname } from 'node:path';
import { runChecked, tcpAnswers } from './servers/common.js';

describe('RabbitMQ 3.10 (real server)', () => {
  it('answers rabbitmqctl, exports definitions, listens on its AMQP port, stops clean', async () => {
    const rmq = await startRabbitmq();
    try {
      await rmq.rabbitmqctl(['add_vhost', 'orders']);
      expect(await rmq.rabbitmqctl(['list_vhosts', '--quiet'])).toMatch(/^orders$/m);
      const defs = JSON.parse(await rmq.rabbitmqctl(['export_definitions', '-']));
      expect(defs.vhosts.map((v: { name: string }) => v.name)).toContain('orders');
      expect(await tcpAnswers(rmq.port)).toBe(true);
      // The wrapper script a recipe puts on its PATH reaches the same node.
      const viaScript = await runChecked('sh', ['-c', 'rabbitmqctl list_vhosts --quiet'], {
        env: { PATH: `${dirname(rmq.rabbitmqctlScript)}:${process.env.PATH}` },
      });
      expect(viaScript.stdout).toMatch(/^orders$/m);
    } finally {
      await rmq.stop();
    }
    await expectStoppedClean(rmq);
  });
});
