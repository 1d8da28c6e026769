/**
 * A LambdaStack cluster with both Elasticsearch features: `logging` (the logs) and
 * `opendistro_for_elasticsearch` (the data) are two Elasticsearch clusters of their own
 * (roles/logging and roles/opendistro_for_elasticsearch each seed discovery from their own group,
 * each with its manifest document and admin password). `apply -b <build>` must snapshot both, and
 * `restore latest` must bring both back, each with its own password.
 *
 * Hosts: two sshd hosts on port 22 in mount namespaces laid out as LambdaStack lays them out
 * (test/helpers/lambdastack-hosts.ts), /etc/elasticsearch and path.repo their own.
 * STAND-IN: Open Distro 1.13 (test/infra/standins/elasticsearch.ts), on https://<host name>:9200
 * with LambdaStack's certificates (the admin one expired) and its manifest's admin password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { archiveEntry, archivesIn, readMetadata } from '../helpers/archive.js';
import { cliOutput, runCli, type CliResult } from '../helpers/cli.js';
import { writeLambdaStackBuild, type LambdaStackBuild } from '../helpers/lambdastack-build.js';
import { etcHosts, hostMountSetup } from '../helpers/lambdastack-hosts.js';
import { startLoggingVmElasticsearch } from '../helpers/lambdastack-elasticsearch.js';
import type { ElasticsearchStandIn } from '../infra/standins/elasticsearch.js';

const CLUSTER = 'twoes';
/** sshd on port 22 of 127.0.0.<FIRST_OCTET>…: addresses no other test of this tree uses. */
const FIRST_OCTET = 74;
const VMS = [
  { name: `${CLUSTER}-logging-vm-0`, group: 'logging', password: 'ls-manifest-pw-logging', index: 'filebeat-7.10.2-2026.12.01' },
  { name: `${CLUSTER}-opendistro-vm-0`, group: 'opendistro_for_elasticsearch', password: 'ls-manifest-pw-data', index: 'orders' },
] as const;
/** configuration/opendistro-for-elasticsearch as LambdaStack's schema defaults have it, with its own password. */
const OPENDISTRO_DOCUMENT = `---
kind: configuration/opendistro-for-elasticsearch
title: Open Distro for Elasticsearch Config
name: default
specification:
  cluster_name: LambdaStackElastic
  clustered: true
  admin_password: ${VMS[1].password}
  kibanaserver_password: ${VMS[1].password}
  kibanaserver_user_active: false
  paths:
    data: /var/lib/elasticsearch
    repo: /var/lib/elasticsearch-snapshots
    logs: /var/log/elasticsearch
`;

let dir: string;
let fleet: Fleet | undefined;
let build: LambdaStackBuild;
let target: string;
let env: Record<string, string>;
const es: ElasticsearchStandIn[] = [];

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 600_000 });
const doc = async (i: number) => {
  const r = await es[i]!.request('GET', `/${VMS[i]!.index}/_doc/1`);
  return r.status === 200 ? r.body._source : `HTTP ${r.status}`;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-ls-two-es-'));
  await chmod(dir, 0o755);
  target = join(dir, 'backups');
  const home = join(dir, 'home');
  env = { HOME: home, SSH_AUTH_SOCK: '' };
  const addresses = VMS.map((v, i) => ({ name: v.name, address: `127.0.0.${FIRST_OCTET + i}` }));
  const hostsFile = join(dir, 'etc-hosts');
  await writeFile(hostsFile, etcHosts(addresses));
  const setups = VMS.map((v) => hostMountSetup({ name: v.name, dir: join(dir, 'hosts', v.name), binds: [], hide: [], units: {} }, hostsFile));
  fleet = await startFleet({ hosts: VMS.length, firstOctet: FIRST_OCTET, port: 22, mountSetup: (name) => setups[Number(name.replace('host', '')) - 1]! });
  for (const [i, vm] of VMS.entries()) {
    es.push(await startLoggingVmElasticsearch(dir, { pid: fleet.hosts[i]!.pid, name: vm.name, address: addresses[i]!.address, password: vm.password }));
  }
  build = writeLambdaStackBuild(dir, {
    cluster: CLUSTER,
    groups: Object.fromEntries(VMS.map((v, i) => [v.group, [{ name: v.name, ip: addresses[i]!.address }]])),
    adminUser: SUDO_USER,
    privateKey: fleet.clientKey,
    editManifest: (text) => `${text.replace(/\n*$/, '\n')}${OPENDISTRO_DOCUMENT}`,
  });
}, 300_000);

afterAll(async () => {
  for (const e of es) await e.stop();
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('LambdaStack with both logging and opendistro_for_elasticsearch: two Elasticsearch clusters', () => {
  it('apply -b <build> snapshots both clusters and restore latest brings both back, each with its own admin password', async () => {
    for (const [i, vm] of VMS.entries()) expect((await es[i]!.request('PUT', `/${vm.index}/_doc/1`, { cluster: vm.group })).status).toBe(201);

    const r = await cli(['apply', '-b', build.dir, '-t', target, '--only', 'elasticsearch']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/ls-manifest-pw-/);
    const [archive] = await archivesIn(target);
    const meta = await readMetadata(join(target, archive!));
    const component = meta.components.find((c) => c.name === 'elasticsearch')!;
    // One host of each group did the work: neither cluster was passed over as "another host of the group".
    expect(component.hosts.map((h) => [h.name, h.status])).toEqual(VMS.map((v) => [v.name, 'success']));
    for (const [i, vm] of VMS.entries()) {
      const snapshot = JSON.parse(await archiveEntry(join(target, archive!), `elasticsearch/${vm.name}/snapshot.json`));
      expect(snapshot.snapshots[0].indices, vm.name).toContain(vm.index);
      expect(es[i]!.repository('lsbackup'), vm.name).toMatchObject({ corrupted: false });
    }

    for (const [i, vm] of VMS.entries()) expect((await es[i]!.request('DELETE', `/${vm.index}`)).status).toBe(200);
    expect(await Promise.all(VMS.map((_, i) => doc(i)))).toEqual(['HTTP 404', 'HTTP 404']);

    const restored = await cli(['restore', 'latest', '-b', build.dir, '-t', target, '--yes']);
    expect(restored.exitCode, cliOutput(restored)).toBe(0);
    expect(restored.stdout + restored.stderr).not.toMatch(/ls-manifest-pw-/);
    expect(await Promise.all(VMS.map((_, i) => doc(i)))).toEqual(VMS.map((v) => ({ cluster: v.group })));

    // Into a rebuilt cluster (new names, two logging VMs listed first): each cluster's backup maps
    // by position within its own group, never onto a host of the other cluster.
    const rebuilt = writeLambdaStackBuild(join(dir, 'rebuilt'), {
      cluster: `${CLUSTER}-rebuilt`,
      groups: {
        logging: [0, 1].map((i) => ({ name: `new-logging-vm-${i}`, ip: `127.0.0.${FIRST_OCTET + 10 + i}` })),
        opendistro_for_elasticsearch: [{ name: 'new-opendistro-vm-0', ip: `127.0.0.${FIRST_OCTET + 12}` }],
      },
      adminUser: SUDO_USER,
      privateKey: fleet!.clientKey,
      editManifest: (text) => `${text.replace(/\n*$/, '\n')}${OPENDISTRO_DOCUMENT}`,
    });
    const dry = await cli(['restore', join(target, archive!), '-b', rebuilt.dir, '--dry-run']);
    expect(dry.exitCode, cliOutput(dry)).toBe(0);
    expect(dry.stdout).toContain(`${VMS[0].name} -> new-logging-vm-0 (position 1 in group logging)`);
    expect(dry.stdout).toContain(`${VMS[1].name} -> new-opendistro-vm-0 (position 1 in group opendistro_for_elasticsearch)`);
  }, 900_000);
});
