/**
 * recipes/rabbitmq.yaml round trip through the built CLI on real sshd hosts (user lsbtest,
 * sudo to root) against a real RabbitMQ 3.10 node on 127.0.0.1. The recipe's rabbitmqctl
 * var points at the infra's wrapper, which carries the node's environment and cookie (on a
 * LambdaStack host it is plain `rabbitmqctl`). The recipe's tests section (vhost, user, queue,
 * policy) runs through recipe test: import → apply → delete them → restore → equal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startRabbitmq, type RabbitmqServer } from '../infra/index.js';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { archiveEntries, archiveEntry, componentOf, entrySize, hostOf, storedBackup } from '../helpers/archive.js';
import { cliOutput, jsonEvents, stepEnd } from '../helpers/cli.js';
import { backupWithUnreadEdit } from '../helpers/config-edit.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';

const recipe = shippedRecipe('rabbitmq');
// Every rabbitmqctl call boots an Erlang VM: ~2 s on an idle 2-core machine, ~10 s under two CPU
// burners. The first test makes about a dozen calls; its twenty-call predecessor took 40 s idle,
// 229 s under two burners, and over 300 s under two burners plus the rest of the suite (npm run
// test:stress). CPU-bound, not a hang: watched call by call, each one finished, just slowly.
const TEST_TIMEOUT_MS = 900_000;

describe('rabbitmq recipe', () => {
  let fleet: Fleet;
  let rmq: RabbitmqServer;
  let b: Cluster;
  /** rabbitmq_tmp_dir: where restore keeps the configuration it replaces. */
  let aside: string;
  /** host1's vars, as the tests but one (restart command empty) run with. */
  let host1Vars: Record<string, string>;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
    rmq = await startRabbitmq();
    aside = await mkdtemp(path.join(tmpdir(), 'lsb-rabbitmq-aside-'));
    host1Vars = {
      rabbitmqctl: rmq.rabbitmqctlScript,
      rabbitmq_config_dir: rmq.configDir,
      // The real node, stopped and started again (test/infra/servers/rabbitmq.ts).
      rabbitmq_restart_command: rmq.restartScript,
      rabbitmq_tmp_dir: aside,
    };
    b = await createCluster({ fleet, groups: { host1: ['rabbitmq'] }, hostVars: { host1: host1Vars } });
  });
  afterAll(async () => {
    await rmq?.stop();
    await fleet?.stop();
    await b?.cleanup();
    if (aside) await rm(aside, { recursive: true, force: true });
  });

  const ctl = (...args: string[]) => rmq.rabbitmqctl(['-q', ...args]);

  it(
    "round-trips the recipe's test vhost, queue, policy and user through recipe test; the definitions and /etc/rabbitmq are in the backup",
    async () => {
      const into = path.join(b.dir, 'recipe-test');
      await expectRoundTrip(recipe, ['-b', b.build, '-t', into], {
        env: b.env,
      });
      const { file, meta } = await storedBackup(into);
      expect(hostOf(componentOf(meta, 'rabbitmq'), 'host1').status).toBe('success');
      expect(componentOf(meta, 'rabbitmq').componentVersion).toMatch(/^3\.\d+/);
      const definitions = JSON.parse(await archiveEntry(file, 'rabbitmq/host1/definitions.json'));
      expect(definitions.vhosts.map((v: { name: string }) => v.name)).toContain('lsbackup-recipe-test');
      expect(entrySize(meta, `rabbitmq/host1/files${rmq.configFile}`)).toBeGreaterThan(0);
      // Beyond the check's definitions: the queue is declared in the broker, the password hash works.
      expect(await ctl('list_queues', '-p', 'lsbackup-recipe-test', 'name', 'durable', 'arguments')).toMatch(
        /^lsbackup-recipe-test\s+true\s+.*"x-queue-mode","lazy"/m,
      );
      await ctl('authenticate_user', 'lsbackup-recipe-test', 'lsbackup-recipe-test');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'puts /etc/rabbitmq back only when asked, restarts the node on it when it differs, and the node runs with it',
    async () => {
      // The backup's rabbitmq.conf sets a memory watermark the running node never read.
      const setting = 'vm_memory_high_watermark.relative = 0.31\n';
      const { archive, config } = await backupWithUnreadEdit(b, recipe, rmq.configFile, setting);
      const watermark = async () => ctl('eval', 'element(2, application:get_env(rabbit, vm_memory_high_watermark)).');

      const plain = await b.restore(archive);
      expect(plain.exitCode, cliOutput(plain)).toBe(0);
      expect(await readFile(rmq.configFile, 'utf8')).toBe(config);
      expect(await rmq.restarts()).toBe(0);
      expect((await watermark()).trim()).toBe('0.4'); // RabbitMQ's default: the edit was never read

      const before = rmq.currentPid();
      const withConfigs = await b.restore(archive, ['--json', '--var', 'rabbitmq.restore_configs=true']);
      expect(withConfigs.exitCode, cliOutput(withConfigs)).toBe(0);
      expect(stepEnd(withConfigs, 'restart the node')).toEqual({
        status: 'success',
        stdout: 'rabbitmq: the node restarted on the restored configuration and has booted',
        stderr: '',
      });
      expect(await readFile(rmq.configFile, 'utf8')).toBe(config + setting);
      expect(await rmq.restarts()).toBe(1);
      expect(rmq.currentPid()).not.toBe(before);
      expect((await watermark()).trim()).toBe('0.31');
      expect(await readdir(aside)).toEqual([]);

      // The same configuration again: nothing to restart.
      const again = await b.restore(archive, ['--json', '--var', 'rabbitmq.restore_configs=true']);
      expect(again.exitCode, cliOutput(again)).toBe(0);
      expect(stepEnd(again, 'restart the node').stdout).toBe('rabbitmq: the restored configuration is the one that was in place: the node not restarted');
      expect(await rmq.restarts()).toBe(1);
      await writeFile(rmq.configFile, config);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'puts the previous configuration back when the node does not boot with the restored one, restarts the node on it, and fails',
    async () => {
      // The backup holds a setting RabbitMQ does not know, and a file the host no longer has.
      const extra = path.join(rmq.configDir, 'advanced.config');
      await writeFile(extra, '[].\n');
      const { archive, config } = await backupWithUnreadEdit(b, recipe, rmq.configFile, 'lsbackup_no_such_setting = 1\n');
      await rm(extra);
      const files = (await readdir(rmq.configDir)).sort();
      const restartsBefore = await rmq.restarts();

      const r = await b.restore(archive, ['--json', '--var', 'rabbitmq.restore_configs=true']);
      expect(r.exitCode, cliOutput(r)).toBe(1);
      const step = stepEnd(r, 'restart the node');
      expect(step.status).toBe('failed');
      // The restart command's own words first (systemctl: "Job for rabbitmq-server.service failed …").
      expect(step.stderr.split('\n')).toEqual([
        expect.stringMatching(/^rabbitmq-server exited during its start/),
        'rabbitmq: the restart command failed (exit 1): the node did not start with the restored configuration' +
          ' (its log says why, e.g. journalctl -u rabbitmq-server, /var/log/rabbitmq).' +
          ` The configuration from before the restore is back in ${rmq.configDir}, and the node was restarted on it: it has booted`,
      ]);
      // RabbitMQ refused the restored file, then booted on the previous one.
      expect(await readFile(rmq.consoleLog, 'utf8')).toMatch(/lsbackup_no_such_setting/);
      expect((await rmq.restarts()) - restartsBefore).toBe(2);
      expect(await readFile(rmq.configFile, 'utf8')).toBe(config);
      expect((await readdir(rmq.configDir)).sort()).toEqual(files);
      expect(await ctl('list_vhosts')).toMatch(/^\/$/m);
      expect(await readdir(aside)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'with rabbitmq_restart_command empty, puts a changed /etc/rabbitmq back and leaves the node running, warning that it takes effect at the next start',
    async () => {
      const setting = 'vm_memory_high_watermark.relative = 0.33\n';
      const { archive, config } = await backupWithUnreadEdit(b, recipe, rmq.configFile, setting);
      await b.hostVars('host1', { ...host1Vars, rabbitmq_restart_command: '' });
      try {
        const pid = rmq.currentPid();
        const restartsBefore = await rmq.restarts();
        const r = await b.restore(archive, ['--json', '--var', 'rabbitmq.restore_configs=true']);
        // A warning, not a failure: the restore did what it was asked (docs/components/databases-and-proxies.md).
        expect(r.exitCode, cliOutput(r)).toBe(0);
        expect(jsonEvents<{ status: string }>(r.stdout, 'run.end').map((e) => e.status)).toEqual(['success']);
        expect(stepEnd(r, 'restart the node')).toEqual({
          status: 'success',
          stdout: '',
          stderr: 'rabbitmq: the restored configuration takes effect when the node next starts (rabbitmq_restart_command is empty)',
        });
        expect(jsonEvents<{ message: string }>(r.stdout, 'warning').map((w) => w.message)).toEqual([
          expect.stringContaining('takes effect when the node next starts'),
        ]);
        expect(await readFile(rmq.configFile, 'utf8')).toBe(config + setting);
        expect(await rmq.restarts()).toBe(restartsBefore);
        expect(rmq.currentPid()).toBe(pid);
        expect(await readdir(aside)).toEqual([]);
      } finally {
        await b.hostVars('host1', host1Vars);
        await writeFile(rmq.configFile, config);
      }
    },
    TEST_TIMEOUT_MS,
  );

  /**
   * Disaster recovery into a rebuilt cluster: Ansible gave the new VM a rabbitmq.conf whose
   * classic-config peer list names the NEW cluster's nodes; the backup's names the old ones.
   */
  it(
    "keeps this host's own configuration when the backup's names another cluster's nodes (a rebuilt cluster), and restores the definitions",
    async () => {
      const peers = (...nodes: string[]) =>
        [
          'cluster_formation.peer_discovery_backend = classic_config',
          ...nodes.map((n, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${n}`),
          '',
        ].join('\n');
      await ctl('add_vhost', 'rebuilt-check');
      const { archive, config } = await backupWithUnreadEdit(b, recipe, rmq.configFile, peers('rabbit@old-vm-1', 'rabbit@old-vm-2'));
      await ctl('delete_vhost', 'rebuilt-check');
      // The old cluster is lost; Ansible gave the rebuilt VM its own peer list.
      const own = config + peers('rabbit@new-vm-1', 'rabbit@new-vm-2');
      await writeFile(rmq.configFile, own);
      const restarts = await rmq.restarts();
      try {
        const r = await b.restore(archive, ['--json', '--var', 'rabbitmq.restore_configs=true']);
        expect(r.exitCode, cliOutput(r)).toBe(0);
        expect(stepEnd(r, 'restart the node').stdout).toBe(
          `rabbitmq: the backup's configuration names another cluster's nodes (rabbit@old-vm-1 rabbit@old-vm-2): this host keeps its own ${rmq.configDir} (nodes rabbit@new-vm-1 rabbit@new-vm-2), the node not restarted; the definitions are restored`,
        );
        expect(await readFile(rmq.configFile, 'utf8')).toBe(own);
        expect(await rmq.restarts()).toBe(restarts);
        expect(await ctl('list_vhosts', 'name')).toMatch(/^rebuilt-check$/m);
        expect(await readdir(aside)).toEqual([]);
      } finally {
        await writeFile(rmq.configFile, config);
        await ctl('delete_vhost', 'rebuilt-check').catch(() => undefined);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the definitions export is content-addressed: byte-identical while nothing changed (an incremental refers to it), stored again after a change, restored from the chain',
    async () => {
      // Several objects of each kind, so that an export whose order varied would show it.
      for (const vhost of ['cas-a', 'cas-b', 'cas-c']) {
        await ctl('add_vhost', vhost);
        await ctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
        await ctl('set_policy', '-p', vhost, `${vhost}-lazy`, '^lazy', '{"queue-mode":"lazy"}');
      }
      const full = await b.apply(recipe, ['--full']);
      expect(full.exitCode, cliOutput(full)).toBe(0);
      const same = await b.apply(recipe, ['--incremental']);
      expect(same.exitCode, cliOutput(same)).toBe(0);
      const definitions = (m: BackupMetadata) => m.entries.find((e) => e.path === 'rabbitmq/host1/definitions.json');
      expect(definitions(same.metadata!)).toMatchObject({ ref: full.metadata!.backupId, sha256: definitions(full.metadata!)!.sha256 });
      expect(await archiveEntries(same.archive!)).not.toContain('rabbitmq/host1/definitions.json');

      await ctl('add_vhost', 'cas-d');
      const changed = await b.apply(recipe, ['--incremental']);
      expect(changed.exitCode, cliOutput(changed)).toBe(0);
      expect(definitions(changed.metadata!)?.ref).toBeUndefined();
      expect(JSON.parse(await archiveEntry(changed.archive!, 'rabbitmq/host1/definitions.json')).vhosts.map((v: { name: string }) => v.name)).toContain(
        'cas-d',
      );

      // The unchanged incremental restores the definitions its base holds.
      for (const vhost of ['cas-a', 'cas-b', 'cas-c', 'cas-d']) await ctl('delete_vhost', vhost);
      const restored = await b.restore(same.archive!);
      expect(restored.exitCode, cliOutput(restored)).toBe(0);
      expect(await ctl('list_policies', '-p', 'cas-b')).toMatch(/cas-b-lazy/);
    },
    TEST_TIMEOUT_MS,
  );
});
