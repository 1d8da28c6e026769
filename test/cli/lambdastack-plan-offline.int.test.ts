/**
 * `lsbackup plan -b <LambdaStack build dir>` with no network at all (`unshare -n`): every component
 * of the cluster is listed on the hosts of its LambdaStack group, with the paths, addresses and
 * settings LambdaStack uses (from manifest.yml through profiles/lambdastack.yaml), no --var, and
 * plan never connects to a host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { cliOutput, cliPath, workspace } from '../helpers/cli.js';
import { planSection, writeLambdaStackBuild, type LambdaStackBuild } from '../helpers/lambdastack-build.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: LambdaStackBuild;
let out: { exitCode: number; stdout: string; stderr: string };

const host = (name: string, ip: string) => ({ name, ip });
const master = host('prod-master-vm-0', '10.1.1.10');
const workers = [host('prod-node-vm-0', '10.1.1.11'), host('prod-node-vm-1', '10.1.1.12')];
const kafka = host('prod-kafka-vm-0', '10.1.1.20');
const logging = host('prod-logging-vm-0', '10.1.1.30');
const monitoring = host('prod-monitoring-vm-0', '10.1.1.40');
const postgres = [host('prod-postgresql-vm-0', '10.1.1.50'), host('prod-postgresql-vm-1', '10.1.1.51')];
const rabbit = host('prod-rabbitmq-vm-0', '10.1.1.60');
const lb = host('prod-lb-vm-0', '10.1.1.70');

/** The lines of the plan between `<component> (recipe` and the next component. */
function section(component: string): string {
  const lines = planSection(out.stdout, component);
  expect(lines, `plan lists ${component}\n${cliOutput(out)}`).toBeDefined();
  return lines!;
}

beforeAll(async () => {
  ws = await workspace('lsb-ls-offline-');
  build = writeLambdaStackBuild(ws.dir, {
    cluster: 'prod',
    groups: {
      kubernetes_master: [master],
      kubernetes_node: workers,
      zookeeper: [kafka],
      kafka: [kafka],
      logging: [logging],
      opendistro_for_elasticsearch: [logging],
      kibana: [logging],
      prometheus: [monitoring],
      grafana: [monitoring],
      postgresql: postgres,
      rabbitmq: [rabbit],
      haproxy: [lb],
    },
  });
  // No network namespace of its own, no route anywhere: a connection attempt would fail loudly.
  const r = await execa('unshare', ['-n', 'node', cliPath, 'plan', '-b', build.dir], { reject: false, stdin: 'ignore', timeout: 120_000 });
  out = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
});
afterAll(() => ws.cleanup());

describe('plan of a LambdaStack build dir, offline', () => {
  it('succeeds without any network and without --var', () => {
    expect(out.exitCode, cliOutput(out)).toBe(0);
    expect(out.stderr).not.toMatch(/ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|timed out|cannot connect/i);
    expect(out.stdout).toContain("Plan for cluster 'prod'");
  });

  it('uses the key from the build dir instead of the lscli container path, as the admin user', () => {
    expect(out.stdout + out.stderr).toContain(build.containerKeyPath);
    expect(out.stdout).toContain(`ssh operations@${master.ip}:22`);
  });

  it('lists every component on the hosts of its LambdaStack group', () => {
    expect(section('kubernetes')).toContain(`host ${master.name} `);
    expect(section('zookeeper')).toContain(`host ${kafka.name} `);
    expect(section('kafka')).toContain(`host ${kafka.name} `);
    expect(section('elasticsearch')).toContain(`host ${logging.name} `);
    expect(section('kibana')).toContain(`host ${logging.name} `);
    expect(section('prometheus')).toContain(`host ${monitoring.name} `);
    expect(section('alertmanager')).toContain(`host ${monitoring.name} `);
    expect(section('grafana')).toContain(`host ${monitoring.name} `);
    for (const h of postgres) expect(section('postgresql')).toContain(`host ${h.name} `);
    expect(section('rabbitmq')).toContain(`host ${rabbit.name} `);
    expect(section('haproxy')).toContain(`host ${lb.name} `);
    for (const h of [master, ...workers, kafka, logging, monitoring, ...postgres, rabbit, lb]) expect(section('host-basics')).toContain(`host ${h.name} `);
  });

  it("shows LambdaStack's paths and settings, taken from manifest.yml", () => {
    expect(out.stdout).toContain('Values from ');
    // Grafana over https with its own self-signed certificate, pinned.
    expect(section('grafana')).toContain('https://localhost:3000');
    expect(section('grafana')).toContain('openssl x509 -in /etc/grafana/ssl/grafana_cert.pem');
    expect(section('prometheus')).toContain('/var/lib/prometheus');
    // Open Distro on https at the host's name, LambdaStack's CA and admin certificate.
    expect(section('elasticsearch')).toContain('/var/lib/elasticsearch-snapshots');
    expect(section('elasticsearch')).toContain(`https://${logging.name}:9200/`);
    expect(section('elasticsearch')).toContain('--cacert /etc/elasticsearch/lambdastack-root-ca.pem');
    expect(section('zookeeper')).toContain('/var/log/zookeeper/version-2');
    // etcd as a kubeadm static pod, reached through the container runtime.
    expect(section('kubernetes')).toContain('crictl');
    for (const h of workers) expect(section('kubernetes-volumes')).toContain(`host ${h.name} `);
    // HAProxy in LambdaStack's runc container.
    expect(section('haproxy')).toContain('/opt/runc/haproxy/config.json');
    expect(out.stdout).toContain('postgresql.repmgr_database = ls_repmgr');
  });

  it('names the passwords of the manifest as secrets and never prints them', () => {
    expect(out.stdout).toContain('secret GRAFANA_ADMIN_PASSWORD');
    expect(out.stdout + out.stderr).not.toMatch(/ls-manifest-pw-/);
  });
});
