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
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliOutput } from '../helpers/cli.js';
import { startLoggingVmElasticsearch } from '../helpers/lambdastack-elasticsearch.js';
import { startRebuiltClusters, type RebuiltClusters } from '../helpers/lambdastack-rebuilt.js';
import type { ElasticsearchStandIn } from '../infra/standins/elasticsearch.js';

const VMS = [
  { cluster: 'esold', name: 'esold-logging-vm-0', password: 'ls-manifest-pw-old' },
  { cluster: 'esnew', name: 'esnew-logging-vm-0', password: 'ls-manifest-pw-new' },
] as const;
const INDEX = 'filebeat-7.10.2-2026.12.01';

let clusters: RebuiltClusters | undefined;
const es: ElasticsearchStandIn[] = [];

beforeAll(async () => {
  // sshd on port 22 of 127.0.0.78-79: addresses no other test of this tree uses.
  clusters = await startRebuiltClusters({ prefix: 'lsb-ls-es-rebuilt-', firstOctet: 78, group: 'logging', vms: VMS });
  for (const [i, vm] of VMS.entries()) {
    es.push(
      await startLoggingVmElasticsearch(clusters.dir, {
        pid: clusters.fleet.hosts[i]!.pid,
        name: vm.name,
        address: clusters.addresses[i]!,
        password: vm.password,
      }),
    );
  }
}, 300_000);

afterAll(async () => {
  await Promise.all(es.map((e) => e.stop()));
  await clusters?.stop();
}, 120_000);

describe('elasticsearch restored into a rebuilt LambdaStack cluster (a new logging VM, a new CA)', () => {
  it("brings the backup's indices back, and the new VM keeps its own /etc/elasticsearch", async () => {
    const [old, rebuilt] = es as [ElasticsearchStandIn, ElasticsearchStandIn];
    expect((await old.request('PUT', `/${INDEX}/_doc/1`, { message: 'before the rebuild' })).status).toBe(201);
    const backup = await clusters!.backup('elasticsearch');
    expect(backup.exitCode, cliOutput(backup)).toBe(0);

    const own = await Promise.all(['lambdastack-root-ca.pem', 'elasticsearch.yml'].map((f) => readFile(join(rebuilt.configDir, f), 'utf8')));
    const restored = await clusters!.restoreIntoRebuilt('elasticsearch');
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
