/**
 * recipes/zookeeper.yaml on a ZooKeeper ENSEMBLE, as LambdaStack deploys it: its feature mapping
 * puts every Kafka VM in the zookeeper group too (roles_mapping kafka: zookeeper, kafka, …), so a
 * cluster with three brokers runs a three-node ensemble (zoo.cfg server.1..3, myid in the data dir).
 *
 * A node restored and started while a peer still serves the newer data joins that peer's quorum
 * and takes the newer data from its leader (ZooKeeper syncs a follower to the leader's history):
 * the restore then "succeeds" with the changes it was meant to undo. Every node must stop before
 * any starts again (restore.together). With --concurrency 1 the hosts of a component not restored
 * together go one after another (stop, restore, start, next): this order is what the test shows.
 *
 * A restore must also bring back a node whose backup read its epoch files before a leader election
 * and its transaction logs after it (ZooKeeper refuses that data dir as it is), and must fail, not
 * exit 0, when a node does not come back.
 *
 * REAL: three ZooKeeper 3.8 servers (Debian zookeeper) on loopback ports, each behind a start/stop
 * service script (service-script.ts) whose calls land, host by host, in one shared log; an sshd
 * fleet host per node, through the built CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { cliOutput } from '../helpers/cli.js';
import { fourLetterWord, withoutWatcherNotices, writeZkCliScript, zkServerClasspath } from '../infra/servers/zookeeper.js';
import { freePortOutsideEphemeral, isAlive, logTail, LOOPBACK, readPidFile, runChecked, waitUntil } from '../infra/servers/common.js';
import { writeServiceScript, type ServiceScript } from './service-script.js';

const recipe = shippedRecipe('zookeeper');
const HOSTS = ['host1', 'host2', 'host3'] as const;

interface Node {
  host: string;
  clientPort: number;
  dataDir: string;
  logFile: string;
  service: ServiceScript;
  /** Its host_vars. */
  vars: Record<string, unknown>;
}

let fleet: Fleet;
let cluster: Cluster;
let events: string;
let zkCli: string;
const nodes: Node[] = [];

/** Every node serves (Mode: leader or follower: the ensemble has its quorum). */
const ensembleServes = () =>
  waitUntil(
    'the ensemble serves on every node',
    async () => (await Promise.all(nodes.map((n) => fourLetterWord(n.clientPort, 'srvr').catch(() => '')))).every((a) => /^Mode: (leader|follower)/m.test(a)),
    { timeoutMs: 180_000 },
  ).catch(async (e: Error) => {
    throw new Error(`${e.message}\n${await nodeLogs()}`);
  });
/** The nodes' last log lines, which say why one did not serve (zkServerClasspath gives them a logging backend). */
const nodeLogs = async (lines = 20) => (await Promise.all(nodes.map(async (n) => `--- ${n.host}:\n${await logTail(n.logFile, lines)}`))).join('\n');
/**
 * Why a restore failed, for a CI log that keeps only the end: the nodes' logs, each host's sshd log
 * (a connection or channel refused), the service calls the hosts made, and the restore's own
 * output last.
 */
const restoreFailure = async (r: Awaited<ReturnType<Cluster['restore']>>) =>
  [
    await nodeLogs(60),
    ...(await Promise.all(fleet.hosts.map(async (h) => `--- sshd of ${h.name}:\n${await logTail(h.logFile, 15)}`))),
    `--- service calls:\n${await readFile(events, 'utf8')}`,
    `--- lsbackup restore:\n${cliOutput(r)}`,
  ].join('\n');
/** A znode's data as one node answers it (after `sync`, so a follower is not behind its leader). */
const znodeAt = async (n: Node, path: string) => {
  const out = withoutWatcherNotices(
    (await runChecked(zkCli, ['-server', `${LOOPBACK}:${n.clientPort}`], { input: `sync ${path}\nget ${path}\nquit\n` })).stdout,
  );
  return out.trim().split('\n').at(-1) ?? '';
};
const childrenAt = async (n: Node, path: string) =>
  withoutWatcherNotices((await runChecked(zkCli, ['-server', `${LOOPBACK}:${n.clientPort}`, 'ls', path])).stdout)
    .trim()
    .split('\n')
    .at(-1);
const zkBatch = (lines: string[], at = nodes[0]!) => runChecked(zkCli, ['-server', `${LOOPBACK}:${at.clientPort}`], { input: `${lines.join('\n')}\nquit\n` });

beforeAll(async () => {
  fleet = await startFleet({ hosts: HOSTS.length });
  cluster = await createCluster({ fleet, groups: Object.fromEntries(HOSTS.map((h) => [h, ['zookeeper']])) });
  events = join(cluster.dir, 'service-events.log');
  await writeFile(events, '');
  // Below the ephemeral range (a restarted node gets its ports back), and all different.
  const taken = new Set<number>();
  while (taken.size < HOSTS.length * 3) taken.add(await freePortOutsideEphemeral());
  const free = [...taken];
  const ports = HOSTS.map((_, i) => ({ client: free[3 * i]!, quorum: free[3 * i + 1]!, election: free[3 * i + 2]! }));
  const servers = ports.map((p, i) => `server.${i + 1}=${LOOPBACK}:${p.quorum}:${p.election}`);
  for (const [i, host] of HOSTS.entries()) {
    const base = join(cluster.dir, `zk-${host}`);
    const [data, txnlog, conf] = ['data', 'txnlog', 'conf'].map((d) => join(base, d)) as [string, string, string];
    for (const d of [data, txnlog, conf]) await mkdir(d, { recursive: true });
    // zoo.cfg as LambdaStack's template writes it (dataDir, dataLogDir apart, server.N lines), on loopback ports.
    const cfg = join(conf, 'zoo.cfg');
    await writeFile(
      cfg,
      [
        'tickTime=2000',
        'initLimit=10',
        'syncLimit=5',
        `dataDir=${data}`,
        `dataLogDir=${txnlog}`,
        `clientPortAddress=${LOOPBACK}`,
        `clientPort=${ports[i]!.client}`,
        'admin.enableServer=false',
        '4lw.commands.whitelist=srvr,ruok,stat,mntr',
        ...servers,
        '',
      ].join('\n'),
    );
    await writeFile(join(data, 'myid'), `${i + 1}\n`);
    const logFile = join(base, 'zookeeper.log');
    const service = await writeServiceScript({
      dir: base,
      // With a logging backend (zkServerClasspath): the node's log, shown when the ensemble does not form, says why.
      command: ['java', '-Xmx256m', '-cp', zkServerClasspath(conf), 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg],
      identity: cfg,
      logFile,
    });
    const vars = {
      zk_conf_dir: conf,
      zk_data_dir: data,
      zk_data_log_dir: txnlog,
      // Each call lands in the shared log, naming the host, before the service acts on it.
      zk_service_stop: `echo '${host} stop' >> ${events} && ${service.script} stop`,
      zk_service_start: `echo '${host} start' >> ${events} && ${service.script} start`,
      zk_version_command: "dpkg-query -W -f='${Version}' zookeeper",
    };
    nodes.push({ host, clientPort: ports[i]!.client, dataDir: data, logFile, service, vars });
    if (i === 0) zkCli = await writeZkCliScript(join(cluster.dir, 'bin'), conf);
    await cluster.hostVars(host, vars);
    await runChecked(service.script, ['start']);
  }
  await ensembleServes();
}, 300_000);

afterAll(async () => {
  for (const n of nodes) await n.service.stop();
  await fleet?.stop();
  await cluster?.cleanup();
});

describe('zookeeper recipe on a three-node ensemble (LambdaStack: ZooKeeper on every Kafka VM)', () => {
  it('restore stops every node before any starts again, and every node serves the backed-up znodes, not the later ones', async () => {
    await zkBatch(['create /ens', 'create /ens/config colour=blue']);
    for (const n of nodes) expect(await znodeAt(n, '/ens/config'), n.host).toBe('colour=blue');
    const archive = await cluster.backup(recipe);

    // After the backup, on the live ensemble: a change and a new znode the restore must undo.
    await zkBatch(['set /ens/config colour=red', 'create /ens/late x']);
    await writeFile(events, '');

    // One host at a time: a node not restored together with its peers meets them still serving.
    const r = await cluster.restore(archive, ['--concurrency', '1']);
    expect(r.exitCode, r.exitCode === 0 ? '' : await restoreFailure(r)).toBe(0);
    const calls = (await readFile(events, 'utf8')).trim().split('\n');
    const firstStart = calls.findIndex((c) => c.endsWith(' start'));
    expect(calls.slice(0, firstStart).sort(), `every node stops before any starts\n${calls.join('\n')}`).toEqual(HOSTS.map((h) => `${h} stop`));
    expect(calls.slice(firstStart).sort()).toEqual(HOSTS.map((h) => `${h} start`));

    await ensembleServes();
    for (const n of nodes) {
      expect(await znodeAt(n, '/ens/config'), n.host).toBe('colour=blue');
      expect(await childrenAt(n, '/ens'), n.host).toBe('[config]');
    }
  }, 900_000);

  // A backup reads a serving node's version-2/currentEpoch (in the data dir) and its transaction
  // logs at different moments. A leader election between the two reads leaves a backup whose epoch
  // files are older than the newest transaction in its logs, and ZooKeeper refuses to load that
  // ("The current epoch ... is older than the last zxid"). Here the backup is handed that state
  // directly: host1's epoch files one epoch back, as read before the election.
  it('a node backed up across a leader election (epoch files older than its logs) loads its restored data and serves', async () => {
    const stale = nodes[0]!;
    await zkBatch(['create /epoch before-election']);
    // After a sync, host1 has applied the write, so its transaction log holds it.
    expect(await znodeAt(stale, '/epoch')).toBe('before-election');
    await runChecked(stale.service.script, ['stop']);
    const version2 = join(stale.dataDir, 'version-2');
    const epoch = Number((await readFile(join(version2, 'currentEpoch'), 'utf8')).trim());
    for (const f of ['currentEpoch', 'acceptedEpoch']) await writeFile(join(version2, f), String(epoch - 1));
    // ZooKeeper itself refuses this data dir: its process ends instead of serving.
    await runChecked(stale.service.script, ['start']);
    const pid = await readPidFile(stale.service.pidFile);
    await waitUntil('host1 refuses epoch files older than its logs', async () => !isAlive(pid), { timeoutMs: 180_000 });
    expect(await logTail(stale.logFile, 200)).toMatch(/current epoch.* is older than the last zxid/);
    await runChecked(stale.service.script, ['stop']);

    const archive = await cluster.backup(recipe);
    await zkBatch(['set /epoch after-backup'], nodes[1]);
    const r = await cluster.restore(archive);
    // A node that did not come back: its own log says why (the restore's output cannot).
    expect(r.exitCode, r.exitCode === 0 ? '' : await restoreFailure(r)).toBe(0);
    await ensembleServes();
    for (const n of nodes) expect(await znodeAt(n, '/epoch'), n.host).toBe('before-election');
  }, 900_000);

  // A service manager reports a start as done once the process runs (LambdaStack's unit: Type=simple,
  // Restart=always), so only the node itself can say whether it came back.
  it('a restore whose nodes do not come back fails, naming the client port each was waited for at', async () => {
    const archive = await cluster.backup(recipe);
    // The services are stopped and not started again: nothing will listen.
    const r = await cluster.restore(archive, ['--var', 'zookeeper.zk_service_start=true', '--var', 'zookeeper.zk_ready_timeout=2']);
    expect(r.exitCode, cliOutput(r)).not.toBe(0);
    for (const n of nodes) expect(cliOutput(r)).toContain(`it does not answer at ${LOOPBACK}:${n.clientPort} after 2s`);
    for (const n of nodes) await runChecked(n.service.script, ['start']);
    await ensembleServes();
  }, 900_000);

  // ZooKeeper 3.8 binds its client port before it loads its data: the kernel accepts connections
  // there while the node has loaded nothing (and a node that refuses its data exits after binding).
  // host3 is frozen (SIGSTOP) once its port accepts, a node held at that point: only an answer at
  // the port says the data is loaded.
  it('a node whose client port accepts connections but which does not answer fails the restore', async () => {
    const frozen = nodes[2]!;
    const archive = await cluster.backup(recipe);
    const start = `${frozen.service.script} start && until bash -c ': <>/dev/tcp/${LOOPBACK}/${frozen.clientPort}' 2>/dev/null; do sleep 0.1; done && kill -STOP "$(cat ${frozen.service.pidFile})"`;
    await cluster.hostVars(frozen.host, { ...frozen.vars, zk_service_start: start });
    let r: Awaited<ReturnType<Cluster['restore']>>;
    try {
      r = await cluster.restore(archive, ['--var', 'zookeeper.zk_ready_timeout=10']);
    } finally {
      await cluster.hostVars(frozen.host, frozen.vars);
      process.kill(await readPidFile(frozen.service.pidFile), 'SIGCONT');
    }
    expect(r.exitCode, cliOutput(r)).not.toBe(0);
    expect(cliOutput(r)).toContain(`zookeeper: started, but it does not answer at ${LOOPBACK}:${frozen.clientPort} after 10s`);
    expect(cliOutput(r)).toMatch(/zookeeper +host1 +success/);
    await ensembleServes();
  }, 900_000);

  it('a port check that cannot run on the host fails the restore saying so, not as a node that never came back', async () => {
    const archive = await cluster.backup(recipe);
    const r = await cluster.restore(archive, ['--var', 'zookeeper.zk_answers=lsbackup-no-such-command']);
    expect(r.exitCode, cliOutput(r)).not.toBe(0);
    expect(cliOutput(r)).toContain(
      "zookeeper: zk_answers cannot run here (the default needs bash; set zk_answers, e.g. to one that uses nc: see the var's comment in the recipe)",
    );
    // The nodes were started all the same.
    await ensembleServes();
  }, 900_000);
});
