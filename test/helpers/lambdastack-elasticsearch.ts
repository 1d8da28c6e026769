/**
 * Open Distro as LambdaStack runs it on a logging VM (roles/opendistro_for_elasticsearch): HTTPS
 * at the VM's name on port 9200, LambdaStack's certificates (the admin one expired), the
 * manifest's admin password, path.repo /var/lib/elasticsearch-snapshots and /etc/elasticsearch
 * the VM's own. STAND-IN: test/infra/standins/elasticsearch.ts (nothing real can run here).
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { startElasticsearchStandIn, type ElasticsearchStandIn } from '../infra/standins/elasticsearch.js';
import { hostPath, inHost } from './lambdastack-hosts.js';

export async function startLoggingVmElasticsearch(
  dir: string,
  vm: { pid: number; name: string; address: string; password: string },
): Promise<ElasticsearchStandIn> {
  const es = await startElasticsearchStandIn({
    baseDir: await mkdtemp(join(dir, 'es-')),
    pathRepo: ['/var/lib/elasticsearch-snapshots'],
    security: { adminPassword: vm.password, hostName: vm.name, adminExpired: true },
    node: { root: hostPath(vm.pid, '/'), address: vm.address, port: 9200 },
  });
  inHost(vm.pid, ['sh', '-c', `rm -rf /etc/elasticsearch && mkdir /etc/elasticsearch && mount --bind ${es.configDir} /etc/elasticsearch`]);
  return es;
}
