import { describe, it, expect } from 'vitest';
import { startRabbitmq } from './servers/rabbitmq.js';
import { expectStoppedClean } from './assert-gone.js';
import { dirname } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
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

  it('restartScript stops the node and starts it again, fails when the node refuses its rabbitmq.conf, and stop() ends the node it started', async () => {
    const rmq = await startRabbitmq();
    try {
      const first = rmq.currentPid();
      expect(first).toBe(rmq.pid);
      await runChecked(rmq.restartScript, []);
      const second = rmq.currentPid();
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      expect(await rmq.rabbitmqctl(['-q', 'await_startup'])).toBe('');

      const config = await readFile(rmq.configFile, 'utf8');
      await writeFile(rmq.configFile, config + 'lsbackup_no_such_setting = 1\n');
      await expect(runChecked(rmq.restartScript, [])).rejects.toThrow(/rabbitmq-server exited during its start/);
      expect(rmq.currentPid()).toBeUndefined();
      expect(await readFile(rmq.consoleLog, 'utf8')).toMatch(/lsbackup_no_such_setting/);

      await writeFile(rmq.configFile, config);
      await runChecked(rmq.restartScript, []);
      expect(rmq.currentPid()).toBeDefined();
      expect(await rmq.restarts()).toBe(3);
    } finally {
      await rmq.stop();
    }
    await expectStoppedClean(rmq);
  });
});
