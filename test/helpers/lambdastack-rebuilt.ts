/**
 * An old LambdaStack cluster and the one rebuilt in its place, one VM each, for tests of a restore
 * into a rebuilt cluster: each VM an sshd host on port 22 in a mount namespace laid out as
 * LambdaStack lays it out (lambdastack-hosts.ts), with its own cluster's /etc/hosts (as
 * roles/common writes it: its own VMs only), and a build dir per cluster whose manifest holds
 * that cluster's logging admin password.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { runCli, type CliResult } from './cli.js';
import { writeLambdaStackBuild, type LambdaStackBuild } from './lambdastack-build.js';
import { etcHosts, hostMountSetup } from './lambdastack-hosts.js';

export interface OneVmCluster {
  cluster: string;
  /** The VM's inventory name. */
  name: string;
  /** The manifest's logging admin password. */
  password: string;
}

export interface RebuiltClusters {
  dir: string;
  /** The backup target both clusters use. */
  target: string;
  fleet: Fleet;
  /** Per VM, in the order given (the old cluster's first): its address and its cluster's build dir. */
  addresses: string[];
  builds: LambdaStackBuild[];
  /** `apply -b <old build> --only <component>`. */
  backup(component: string): Promise<CliResult>;
  /** `restore latest` of the old cluster's backup `-b <rebuilt build> --yes --only <component> --verbose`. */
  restoreIntoRebuilt(component: string): Promise<CliResult>;
  /** Stops the hosts and removes the files (servers the test started are its own to stop first). */
  stop(): Promise<void>;
}

export async function startRebuiltClusters(options: {
  prefix: string;
  firstOctet: number;
  /** The inventory group of the VMs. */
  group: string;
  vms: readonly OneVmCluster[];
  /** LambdaStack path → a directory of this machine, shown on VM i (made before the hosts start). */
  binds?: (i: number, address: string, dir: string) => Promise<Array<[string, string]>>;
}): Promise<RebuiltClusters> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix));
  await chmod(dir, 0o755);
  const env = { HOME: join(dir, 'home'), SSH_AUTH_SOCK: '' };
  const addresses = options.vms.map((_, i) => `127.0.0.${options.firstOctet + i}`);
  const setups: string[] = [];
  for (const [i, vm] of options.vms.entries()) {
    const hostsFile = join(dir, `etc-hosts-${vm.cluster}`);
    await writeFile(hostsFile, etcHosts([{ name: vm.name, address: addresses[i]! }]));
    const binds = (await options.binds?.(i, addresses[i]!, dir)) ?? [];
    setups.push(hostMountSetup({ name: vm.name, dir: join(dir, 'hosts', vm.name), binds, hide: [], units: {} }, hostsFile));
  }
  const fleet = await startFleet({
    hosts: options.vms.length,
    firstOctet: options.firstOctet,
    port: 22,
    mountSetup: (name) => setups[Number(name.replace('host', '')) - 1]!,
  });
  const builds = options.vms.map((vm, i) =>
    writeLambdaStackBuild(dir, {
      cluster: vm.cluster,
      groups: { [options.group]: [{ name: vm.name, ip: addresses[i]! }] },
      adminUser: SUDO_USER,
      privateKey: fleet.clientKey,
      editManifest: (text) => text.replaceAll('ls-manifest-pw-logging', vm.password),
    }),
  );
  const target = join(dir, 'backups');
  const cli = (args: string[]) => runCli(args, { env, timeoutMs: 600_000 });
  return {
    dir,
    target,
    fleet,
    addresses,
    builds,
    backup: (component) => cli(['apply', '-b', builds[0]!.dir, '-t', target, '--only', component]),
    restoreIntoRebuilt: (component) =>
      cli(['restore', 'latest', '--cluster', options.vms[0]!.cluster, '-b', builds[1]!.dir, '-t', target, '--yes', '--only', component, '--verbose']),
    stop: async () => {
      await fleet.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
