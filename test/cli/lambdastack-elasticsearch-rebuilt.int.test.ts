/**
 * recipes/elasticsearch.yaml restored into a REBUILT LambdaStack cluster: a new logging VM, with a
 * new name, to which `lscli apply` gave its own /etc/elasticsearch — a root CA made for the new
 * cluster and node certificates it signed, an elasticsearch.yml with the VM's name
 * (roles/opendistro_for_elasticsearch: generate-certs.yml makes lambdastack-root-ca.pem on the
 * group's first host; templates/elasticsearch.yml.j2 sets node.name and network.host to
 * ansible_hostname). The backup's indices must come back; the backup's /etc/elasticsearch is the
 * old VM's: put over the new one, its root CA no longer verifies the running node's certificate.
 *
 * Hosts: two sshd hosts on port 22 in mount namespaces laid out as LambdaStack lays them out
 * (test/helpers/lambdastack-hosts.ts), each VM's /etc/elasticsearch and path.repo its own.
 * STAND-IN: Open Distro 1.13 (test/infra/standins/elasticsearch.ts: nothing real can run here),
 * on https://<host name>:9200 with LambdaStack's certificates, each cluster its own CA (the admin
 * certificate expired) and its manifest's admin password. Like Elasticsearch, it reads its
 * certificates when it starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { cliOutput, runCli, type CliResult } from '../helpers/cli.js';
import { writeLambdaStackBuild, type LambdaStackBuild } from '../helpers/lambdastack-build.js';
import { etcHosts, hostMountSetup } from '../helpers/lambdastack-hosts.js';
import { startLoggingVmElasticsearch } from '../helpers/lambdastack-elasticsearch.js';
import type { ElasticsearchStandIn } from '../infra/standins/elasticsearch.js';

/** sshd on port 22 of 127.0.0.<FIRST_OCTET>…: addresses no other test of this tree uses. */
const FIRST_OCTET = 78;
const VMS = [
  { cluster: 'esold', name: 'esold-logging-vm-0', password: 'ls-manifest-pw-old' },
  { cluster: 'esnew', name: 'esnew-logging-vm-0', password: 'ls-manifest-pw-new' },
] as const;
const INDEX = 'filebeat-7.10.2-2026.12.01';

let dir: string;
let fleet: Fleet | undefined;
let env: Record<string, string>;
let target: string;
const builds: LambdaStackBuild[] = [];
const es: ElasticsearchStandIn[] = [];

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 600_000 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-ls-es-rebuilt-'));
  await chmod(dir, 0o755);
  target = join(dir, 'backups');
  env = { HOME: join(dir, 'home'), SSH_AUTH_SOCK: '' };
  const addresses = VMS.map((v, i) => ({ name: v.name, address: `127.0.0.${FIRST_OCTET + i}` }));
  const setups: string[] = [];
  for (const [i, vm] of VMS.entries()) {
    // Each cluster's /etc/hosts names its own VMs, as roles/common writes it.
    const hostsFile = join(dir, `etc-hosts-${vm.cluster}`);
    await writeFile(hostsFile, etcHosts([addresses[i]!]));
    setups.push(hostMountSetup({ name: vm.name, dir: join(dir, 'hosts', vm.name), binds: [], hide: [], units: {} }, hostsFile));
  }
  fleet = await startFleet({ hosts: VMS.length, firstOctet: FIRST_OCTET, port: 22, mountSetup: (name) => setups[Number(name.replace('host', '')) - 1]! });
  for (const [i, vm] of VMS.entries()) {
    es.push(await startLoggingVmElasticsearch(dir, { pid: fleet.hosts[i]!.pid, name: vm.name, address: addresses[i]!.address, password: vm.password }));
    builds.push(
      writeLambdaStackBuild(dir, {
        cluster: vm.cluster,
        groups: { logging: [{ name: vm.name, ip: addresses[i]!.address }] },
        adminUser: SUDO_USER,
        privateKey: fleet.clientKey,
        editManifest: (text) => text.replaceAll('ls-manifest-pw-logging', vm.password),
      }),
    );
  }
}, 300_000);

afterAll(async () => {
  await Promise.all(es.map((e) => e.stop()));
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('elasticsearch restored into a rebuilt LambdaStack cluster (a new logging VM, a new CA)', () => {
  it("brings the backup's indices back, and the new VM keeps its own /etc/elasticsearch", async () => {
    const [old, rebuilt] = es as [ElasticsearchStandIn, ElasticsearchStandIn];
    expect((await old.request('PUT', `/${INDEX}/_doc/1`, { message: 'before the rebuild' })).status).toBe(201);
    const backup = await cli(['apply', '-b', builds[0]!.dir, '-t', target, '--only', 'elasticsearch']);
    expect(backup.exitCode, cliOutput(backup)).toBe(0);

    const own = await Promise.all(['lambdastack-root-ca.pem', 'elasticsearch.yml'].map((f) => readFile(join(rebuilt.configDir, f), 'utf8')));
    const restored = await cli([
      'restore',
      'latest',
      '--cluster',
      VMS[0].cluster,
      '-b',
      builds[1]!.dir,
      '-t',
      target,
      '--yes',
      '--only',
      'elasticsearch',
      '--verbose',
    ]);
    expect(restored.exitCode, cliOutput(restored)).toBe(0);
    expect(restored.stdout + restored.stderr).not.toMatch(/ls-manifest-pw-/);
    const doc = await rebuilt.request('GET', `/${INDEX}/_doc/1`);
    expect(doc.status).toBe(200);
    expect(doc.body._source).toEqual({ message: 'before the rebuild' });
    // Its CA (which signed the certificate it serves) and its own name in elasticsearch.yml.
    const now = await Promise.all(['lambdastack-root-ca.pem', 'elasticsearch.yml'].map((f) => readFile(join(rebuilt.configDir, f), 'utf8')));
    expect(now).toEqual(own);
    expect(restored.stdout + restored.stderr).toMatch(/keeps its own \/etc\/elasticsearch/);
  }, 600_000);
});
