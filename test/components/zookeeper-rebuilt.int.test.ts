/**
 * recipes/zookeeper.yaml restored into a REBUILT LambdaStack cluster: the VMs are new, with new
 * names and addresses, and `lscli apply` gave each a zoo.cfg naming the new ensemble
 * (roles/zookeeper templates/zoo.cfg.j2: `server.N=<inventory name>:2888:3888` for the zookeeper
 * group) and a myid (tasks/main.yml: its position in the group + 1). The backup's data must come
 * back; the backup's zoo.cfg names the OLD VMs, which the new ones cannot reach (their /etc/hosts
 * lists the new cluster only): put back, it left the new ensemble unable to form, while the
 * restore said success (README: "restore works into a rebuilt cluster with new names and addresses").
 *
 * REAL: four ZooKeeper 3.8 servers (Debian zookeeper), two ensembles of two, each server in its
 * host's mount namespace at LambdaStack's paths (/opt/zookeeper → /opt/zookeeper-<version>,
 * dataDir /var/lib/zookeeper, dataLogDir /var/log/zookeeper), run through the host's systemctl;
 * sshd hosts on port 22 (test/helpers/lambdastack-hosts.ts); build dirs as lscli writes them;
 * the built CLI. STAND-IN: systemctl (no systemd here; lambdastack-hosts.ts says how).
 * Unlike LambdaStack, zoo.cfg also sets clientPortAddress (every host here shares one network
 * stack, so port 2181 is bound on each host's own address) and turns off the admin server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { cliOutput, runCli, type CliResult } from '../helpers/cli.js';
import { writeLambdaStackBuild, type LambdaStackBuild } from '../helpers/lambdastack-build.js';
import { etcHosts, hostMountSetup, inHost, serviceScript } from '../helpers/lambdastack-hosts.js';
import { fourLetterWord, withoutWatcherNotices, writeZkCliScript, zkServerClasspath } from '../infra/servers/zookeeper.js';
import { runChecked, waitUntil } from '../infra/servers/common.js';

/** sshd on port 22 of 127.0.0.<FIRST_OCTET>…: addresses no other test of this tree uses. */
const FIRST_OCTET = 82;
const CLUSTERS = { old: 'zkold', rebuilt: 'zknew' } as const;
type Which = keyof typeof CLUSTERS;
/** Two Kafka VMs per cluster (LambdaStack's feature mapping puts ZooKeeper on every one). */
const VMS = (['old', 'rebuilt'] as const).flatMap((which, c) =>
  [0, 1].map((i) => ({ which, name: `${CLUSTERS[which]}-kafka-vm-${i}`, address: `127.0.0.${FIRST_OCTET + 2 * c + i}`, myid: i + 1 })),
);
const ZK_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

let dir: string;
let fleet: Fleet | undefined;
let env: Record<string, string>;
let target: string;
let zkCli: string;
const builds = {} as Record<Which, LambdaStackBuild>;
const units: string[] = [];
const hostDirs: Record<string, { conf: string; data: string; log: string }> = {};

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 600_000 });
const vmsOf = (which: Which) => VMS.filter((v) => v.which === which);
const pidOf = (name: string) => fleet!.hosts[VMS.findIndex((v) => v.name === name)]!.pid;
const systemctl = (name: string, verb: string) => inHost(pidOf(name), ['/usr/local/sbin/systemctl', verb, 'zookeeper']);
/** zoo.cfg as roles/zookeeper writes it for a cluster's zookeeper group (plus the two lines the header names). */
const zooCfg = (which: Which, own: string) =>
  [
    'tickTime=2000',
    'initLimit=10',
    'syncLimit=5',
    'dataDir=/var/lib/zookeeper',
    'clientPort=2181',
    'dataLogDir=/var/log/zookeeper',
    ...vmsOf(which).map((v) => `server.${v.myid}=${v.name}:2888:3888`),
    `clientPortAddress=${own}`,
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,ruok,stat,mntr',
    '',
  ].join('\n');
const serves = async (which: Which) =>
  waitUntil(
    `the ${which} ensemble serves on every node`,
    async () =>
      (await Promise.all(vmsOf(which).map((v) => fourLetterWord(2181, 'srvr', v.address).catch(() => '')))).every((a) => /^Mode: (leader|follower)/m.test(a)),
    { timeoutMs: 180_000 },
  );
const zk = (address: string, lines: string[]) => runChecked(zkCli, ['-server', `${address}:2181`], { input: `${lines.join('\n')}\nquit\n` });
const znode = async (address: string, path: string) =>
  withoutWatcherNotices((await zk(address, [`sync ${path}`, `get ${path}`])).stdout)
    .trim()
    .split('\n')
    .at(-1);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-zk-rebuilt-'));
  await chmod(dir, 0o755);
  target = join(dir, 'backups');
  env = { HOME: join(dir, 'home'), SSH_AUTH_SOCK: '' };
  const version = (await execa('dpkg-query', ['-W', '-f=${Version}', 'zookeeper'])).stdout.replace(/-.*/, '');
  // /opt/zookeeper/lib as LambdaStack's tarball has it (the recipe reads the version there).
  const lib = join(dir, 'zookeeper-lib');
  await mkdir(lib);
  await symlink('/usr/share/java/zookeeper.jar', join(lib, `zookeeper-${version}.jar`));
  const setups: string[] = [];
  for (const which of ['old', 'rebuilt'] as const) {
    // Each cluster's /etc/hosts names its own VMs only, as roles/common writes it.
    const hostsFile = join(dir, `etc-hosts-${which}`);
    await writeFile(hostsFile, etcHosts(vmsOf(which)));
    for (const vm of vmsOf(which)) {
      const base = join(dir, 'zk', vm.name);
      const d = { conf: join(base, 'conf'), data: join(base, 'data'), log: join(base, 'txnlog') };
      for (const p of Object.values(d)) await mkdir(p, { recursive: true });
      await writeFile(join(d.conf, 'zoo.cfg'), zooCfg(which, vm.name));
      await writeFile(join(d.data, 'myid'), `${vm.myid}\n`);
      hostDirs[vm.name] = d;
      const unit = serviceScript(
        join(base, 'zookeeper.service'),
        ['java', '-Xmx256m', '-cp', zkServerClasspath('/opt/zookeeper/conf'), ZK_MAIN, '/opt/zookeeper/conf/zoo.cfg'],
        join(base, 'zookeeper.log'),
      );
      units.push(unit);
      setups.push(
        hostMountSetup(
          {
            name: vm.name,
            dir: join(dir, 'hosts', vm.name),
            binds: [
              ['/opt/zookeeper/conf', d.conf],
              ['/opt/zookeeper/lib', lib],
              ['/var/lib/zookeeper', d.data],
              ['/var/log/zookeeper', d.log],
            ],
            links: [['/opt/zookeeper', `/opt/zookeeper-${version}`]],
            hide: [],
            units: { zookeeper: unit },
          },
          hostsFile,
        ),
      );
    }
  }
  zkCli = await writeZkCliScript(join(dir, 'bin'), hostDirs[VMS[0]!.name]!.conf);
  fleet = await startFleet({ hosts: VMS.length, firstOctet: FIRST_OCTET, port: 22, mountSetup: (name) => setups[Number(name.replace('host', '')) - 1]! });
  for (const which of ['old', 'rebuilt'] as const) {
    builds[which] = writeLambdaStackBuild(join(dir, which), {
      cluster: CLUSTERS[which],
      groups: { zookeeper: vmsOf(which).map((v) => ({ name: v.name, ip: v.address })) },
      adminUser: SUDO_USER,
      privateKey: fleet.clientKey,
    });
  }
}, 300_000);

afterAll(async () => {
  for (const unit of units) await execa(unit, ['stop'], { reject: false });
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('zookeeper restored into a rebuilt LambdaStack cluster (new VM names and addresses)', () => {
  it("brings the backup's znodes back on the new ensemble, whose VMs keep their own zoo.cfg and myid", async () => {
    for (const vm of vmsOf('old')) systemctl(vm.name, 'start');
    await serves('old');
    await zk(vmsOf('old')[0]!.address, ['create /app', 'create /app/config colour=blue']);
    const backup = await cli(['apply', '-b', builds.old.dir, '-t', target, '--only', 'zookeeper']);
    expect(backup.exitCode, cliOutput(backup)).toBe(0);

    // The old cluster is lost; the rebuilt one runs its own, empty ensemble.
    for (const vm of vmsOf('old')) systemctl(vm.name, 'stop');
    for (const vm of vmsOf('rebuilt')) systemctl(vm.name, 'start');
    await serves('rebuilt');

    const restored = await cli([
      'restore',
      'latest',
      '--cluster',
      CLUSTERS.old,
      '-b',
      builds.rebuilt.dir,
      '-t',
      target,
      '--yes',
      '--only',
      'zookeeper',
      '--verbose',
    ]);
    expect(restored.exitCode, cliOutput(restored)).toBe(0);
    for (const vm of vmsOf('rebuilt')) {
      const d = hostDirs[vm.name]!;
      expect(await readFile(join(d.conf, 'zoo.cfg'), 'utf8'), `${vm.name}: its zoo.cfg names its own ensemble`).toBe(zooCfg('rebuilt', vm.name));
      expect((await readFile(join(d.data, 'myid'), 'utf8')).trim(), `${vm.name}: myid`).toBe(String(vm.myid));
    }
    expect(restored.stdout + restored.stderr).toMatch(/keeps its own zoo\.cfg and myid/);
    await serves('rebuilt');
    for (const vm of vmsOf('rebuilt')) expect(await znode(vm.address, '/app/config'), vm.name).toBe('colour=blue');
  }, 900_000);
});
