/**
 * recipes/kibana.yaml restored into a REBUILT LambdaStack cluster: a new logging VM, to which
 * `lscli apply` gave its own kibana.yml (roles/kibana templates/kibana.yml.j2: server.host is the
 * VM's IPv4). The backup's saved objects must come back; the backup's kibana.yml is the old VM's:
 * put over the new one, Kibana would bind the old VM's address at its next start.
 *
 * Hosts: two sshd hosts on port 22 in mount namespaces laid out as LambdaStack lays them out
 * (test/helpers/lambdastack-hosts.ts), each VM's /etc/kibana its own.
 * STAND-IN: Kibana 7.10.2 with Open Distro's security plugin (test/infra/standins/kibana.ts:
 * nothing real can run here), on its VM's address, with its build's manifest admin password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliOutput } from '../helpers/cli.js';
import { startRebuiltClusters, type RebuiltClusters } from '../helpers/lambdastack-rebuilt.js';
import { startKibanaStandIn, type KibanaStandIn } from '../infra/standins/kibana.js';

const VMS = [
  { cluster: 'kbold', name: 'kbold-logging-vm-0', password: 'ls-manifest-pw-old' },
  { cluster: 'kbnew', name: 'kbnew-logging-vm-0', password: 'ls-manifest-pw-new' },
] as const;
const PATTERN = { attributes: { title: 'filebeat-*', timeFieldName: '@timestamp' }, references: [] };

let clusters: RebuiltClusters | undefined;
const kibanas: KibanaStandIn[] = [];

/** A saved-objects call in the global tenant (the recipe's), as VM i's admin. */
const call = async (i: number, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${kibanas[i]!.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'kbn-xsrf': 'test',
      securitytenant: 'global',
      authorization: 'Basic ' + Buffer.from(`admin:${VMS[i]!.password}`).toString('base64'),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as { attributes?: unknown } };
};

beforeAll(async () => {
  // sshd on port 22 of 127.0.0.80-81: addresses no other test of this tree uses. Each Kibana
  // listens on its VM's address; /etc/kibana is its own.
  clusters = await startRebuiltClusters({
    prefix: 'lsb-ls-kibana-rebuilt-',
    firstOctet: 80,
    group: 'kibana',
    vms: VMS,
    binds: async (i, address, dir) => {
      const kibana = await startKibanaStandIn({
        baseDir: await mkdtemp(join(dir, 'kibana-')),
        host: address,
        security: { user: 'admin', password: VMS[i]!.password },
      });
      kibanas.push(kibana);
      return [['/etc/kibana', kibana.configDir]];
    },
  });
}, 300_000);

afterAll(async () => {
  await Promise.all(kibanas.map((k) => k.stop()));
  await clusters?.stop();
}, 120_000);

describe('kibana restored into a rebuilt LambdaStack cluster (a new logging VM, a new address)', () => {
  it('brings the saved objects back, and the new VM keeps its own kibana.yml', async () => {
    expect((await call(0, 'POST', '/api/saved_objects/index-pattern/filebeat?overwrite=true', PATTERN)).status).toBe(200);
    const backup = await clusters!.backup('kibana');
    expect(backup.exitCode, cliOutput(backup)).toBe(0);

    const own = await readFile(join(kibanas[1]!.configDir, 'kibana.yml'), 'utf8');
    const restored = await clusters!.restoreIntoRebuilt('kibana');
    expect(restored.exitCode, cliOutput(restored)).toBe(0);
    expect((await call(1, 'GET', '/api/saved_objects/index-pattern/filebeat')).body.attributes).toEqual(PATTERN.attributes);
    expect(await readFile(join(kibanas[1]!.configDir, 'kibana.yml'), 'utf8')).toBe(own);
    expect(restored.stdout + restored.stderr).toMatch(/keeps its own kibana\.yml/);
  }, 600_000);
});
