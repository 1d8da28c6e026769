/**
 * recipes/rabbitmq.yaml round trip through the built CLI on real sshd hosts (user lsbtest,
 * sudo to root) against a real RabbitMQ 3.10 node on 127.0.0.1. The recipe's rabbitmqctl
 * var points at the infra's wrapper, which carries the node's environment and cookie (on a
 * LambdaStack host it is plain `rabbitmqctl`). Create vhost, user, queue, policy → apply →
 * delete them → restore --yes → equal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startRabbitmq, type RabbitmqServer } from '../infra/index.js';
import { archiveEntry, componentOf, entrySize, hostOf } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';

const recipe = shippedRecipe('rabbitmq');
// Every rabbitmqctl call boots an Erlang VM: ~2 s on an idle 2-core machine, ~10 s under two CPU
// burners. The first test makes about twenty calls: 40 s idle, 229 s under two burners, and over
// 300 s under two burners plus the rest of the suite (npm run test:stress). CPU-bound, not a hang:
// watched call by call, each one finished, just slowly.
const TEST_TIMEOUT_MS = 900_000;

describe('rabbitmq recipe', () => {
  let fleet: Fleet;
  let rmq: RabbitmqServer;
  let b: Cluster;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
    rmq = await startRabbitmq();
    b = await createCluster({
      fleet,
      groups: { host1: ['rabbitmq'] },
      hostVars: {
        host1: { rabbitmqctl: rmq.rabbitmqctlScript, rabbitmq_config_dir: rmq.configDir, rabbitmq_restart_command: 'true' },
      },
    });
  });
  afterAll(async () => {
    await rmq?.stop();
    await fleet?.stop();
    await b?.cleanup();
  });

  const ctl = (...args: string[]) => rmq.rabbitmqctl(['-q', ...args]);
  const sorted = (text: string) =>
    text
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .sort();
  const state = async () => ({
    vhosts: sorted(await ctl('list_vhosts', 'name')),
    users: sorted(await ctl('list_users')),
    permissions: sorted(await ctl('list_permissions', '-p', 'shop')),
    queues: sorted(await ctl('list_queues', '-p', 'shop', 'name', 'durable', 'arguments')),
    policies: sorted(await ctl('list_policies', '-p', 'shop')),
  });

  it(
    'restores vhosts, users, permissions, queues and policies from exported definitions',
    async () => {
      await ctl('add_vhost', 'shop');
      await ctl('add_user', 'shopper', 'shopper-pw');
      await ctl('set_user_tags', 'shopper', 'monitoring');
      await ctl('set_permissions', '-p', 'shop', 'shopper', '^orders.*', '.*', '.*');
      // A durable queue, declared inside the broker (no AMQP client or downloaded tool needed).
      await ctl(
        'eval',
        'rabbit_amqqueue:declare(rabbit_misc:r(<<"shop">>, queue, <<"orders">>), true, false, [{<<"x-queue-mode">>, longstr, <<"lazy">>}], none, <<"lsbtest">>).',
      );
      await ctl('set_policy', '-p', 'shop', '--apply-to', 'queues', 'orders-ttl', '^orders$', '{"message-ttl":60000}');
      const before = await state();
      expect(before.queues.join('\n')).toContain('orders');
      expect(before.policies.join('\n')).toContain('orders-ttl');

      const run = await b.apply(recipe);
      expect(run.exitCode, cliOutput(run)).toBe(0);
      expect(hostOf(componentOf(run.metadata!, 'rabbitmq'), 'host1').status).toBe('success');
      expect(componentOf(run.metadata!, 'rabbitmq').componentVersion).toMatch(/^3\.\d+/);
      const definitions = JSON.parse(await archiveEntry(run.archive!, 'rabbitmq/host1/definitions.json'));
      expect(definitions.vhosts.map((v: { name: string }) => v.name)).toContain('shop');
      expect(definitions.queues.map((q: { name: string }) => q.name)).toContain('orders');
      expect(entrySize(run.metadata!, `rabbitmq/host1/files${rmq.configFile}`)).toBeGreaterThan(0);

      // Destroy: the vhost takes its queue, policy and permissions with it; the user goes too.
      await ctl('delete_vhost', 'shop');
      await ctl('delete_user', 'shopper');
      expect(sorted(await ctl('list_vhosts', 'name'))).not.toContain('shop');

      const r = await b.restore(run.archive!);
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(await state()).toEqual(before);
      await ctl('authenticate_user', 'shopper', 'shopper-pw'); // the password hash came back too
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'puts /etc/rabbitmq back only when asked',
    async () => {
      const run = await b.apply(recipe);
      expect(run.exitCode, cliOutput(run)).toBe(0);
      const original = await readFile(rmq.configFile, 'utf8');
      await writeFile(rmq.configFile, original + '# changed after the backup\n');

      const plain = await b.restore(run.archive!);
      expect(plain.exitCode, cliOutput(plain)).toBe(0);
      expect(await readFile(rmq.configFile, 'utf8')).toContain('# changed after the backup');

      const withConfigs = await b.restore(run.archive!, ['--var', 'rabbitmq.restore_configs=true']);
      expect(withConfigs.exitCode, cliOutput(withConfigs)).toBe(0);
      expect(await readFile(rmq.configFile, 'utf8')).toBe(original);
      expect(path.dirname(rmq.configFile)).toBe(rmq.configDir);
    },
    TEST_TIMEOUT_MS,
  );
});
