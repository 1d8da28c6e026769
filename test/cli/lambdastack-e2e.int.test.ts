/**
 * The whole LambdaStack-shaped cluster, end to end through the built CLI (issue 13): a build dir
 * written as `lscli apply` writes it (inventory naming the key by its path in the lscli
 * container, ansible/ansible.cfg, manifest.yml) → `lsbackup apply -b <build> -t <dir>` with no
 * --var and no host_vars → every component succeeds → the data is changed or wiped →
 * `lsbackup restore latest -b <build> -t <dir> --yes` → each component's data is as backed up.
 *
 * The hosts are sshd processes on port 22 of their own loopback address, each in a mount
 * namespace of its own laid out as LambdaStack lays a VM out (test/helpers/lambdastack-hosts.ts):
 * LambdaStack's paths, /etc/hosts with the cluster's names, `systemctl` for the services (a
 * STAND-IN: no systemd runs here). Hosts are shared the way a small LambdaStack cluster shares
 * them (ZooKeeper with the first Kafka broker; Prometheus, Alertmanager and Grafana on the
 * monitoring VM; Elasticsearch and Kibana on the logging VM).
 *
 * REAL: ZooKeeper 3.8, Prometheus 2.42 and Alertmanager (Debian), HAProxy in a runc container,
 * etcd 3.4 with kubeadm's PKI, RabbitMQ 3.10, PostgreSQL 15 with repmgr (primary + standby) and
 * pgbouncer's configuration, sshd, sudo.
 * STAND-INS, as in the component tests, where nothing real can run here: the Kafka 2.6 brokers
 * (test/infra/standins/kafka.ts; their znodes in the real ZooKeeper), the kubelet and crictl of
 * the etcd static pod (etcd-static-pod.ts) and kubectl/kubeadm (kubernetes.ts), Grafana 7 on
 * https://localhost:3000 with its self-signed certificate, Open Distro on https://<host name>:9200
 * with LambdaStack's certificates (the admin one expired) and Kibana with the security plugin
 * (grafana.ts, elasticsearch.ts, kibana.ts), with the manifest's passwords.
 * The Kafka topic is replicated on both brokers: with LambdaStack's default replication factor 1
 * the backup refuses to stop a broker unless --var kafka.kafka_allow_downtime=true
 * (docs/lambdastack.md, "Known gaps").
 * The servers listen where LambdaStack's do (127.0.0.1:9090, 9093, 3000, 2379; the logging VM's
 * address:9200; sshd on port 22 of 127.0.0.60-69): the test fails at set-up when one is taken.
 * Integration tier: about 2 minutes on an idle 2-core machine, 8 at load 25.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { appendFile, chmod, copyFile, link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
import { join } from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { startRuncHaproxy, type RuncHaproxy } from '../infra/servers/haproxy-runc.js';
import { httpOk, waitUntil } from '../infra/servers/common.js';
import { archivesIn, readMetadata } from '../helpers/archive.js';
import { cliOutput, cliPath, runCli, type CliResult } from '../helpers/cli.js';
import { RECIPES_DIR } from '../helpers/cluster.js';
import { planSection, writeLambdaStackBuild, type LambdaStackBuild } from '../helpers/lambdastack-build.js';
import { etcHosts, hostMountSetup, hostPath, inHost, serviceScript, type LambdaStackHostLayout } from '../helpers/lambdastack-hosts.js';
import { startZooKeeperService, type ZooKeeperService } from '../components/zookeeper-service.js';
import { startKafkaStandIn, type KafkaStandIn } from '../infra/standins/kafka.js';
import { startEtcdStaticPod, type EtcdStaticPod } from '../infra/standins/etcd-static-pod.js';
import { writeKubeStubs } from '../infra/standins/kubernetes.js';
import { startRabbitmq, type RabbitmqServer } from '../infra/servers/rabbitmq.js';
import { startRepmgrCluster, type RepmgrCluster, type RepmgrNode } from '../infra/servers/postgresql-repmgr.js';
import { writeMaster } from '../components/kubernetes-master.js';
import { startGrafanaStandIn, type GrafanaStandIn } from '../infra/standins/grafana.js';
import { startElasticsearchStandIn, type ElasticsearchStandIn } from '../infra/standins/elasticsearch.js';
import { startKibanaStandIn, type KibanaStandIn } from '../infra/standins/kibana.js';

const CLUSTER = 'e2e';
/** Loopback addresses 127.0.0.<FIRST_OCTET>… with sshd on port 22, as an inventory without ansible_port expects. */
const FIRST_OCTET = 60;
/** The VMs of a small LambdaStack cluster and the feature-mapping groups each is in. */
const VMS = [
  { name: `${CLUSTER}-kafka-vm-0`, groups: ['zookeeper', 'kafka'] },
  { name: `${CLUSTER}-kafka-vm-1`, groups: ['kafka'] },
  { name: `${CLUSTER}-monitoring-vm-0`, groups: ['prometheus', 'grafana'] },
  { name: `${CLUSTER}-logging-vm-0`, groups: ['logging', 'kibana'] },
  { name: `${CLUSTER}-lb-vm-0`, groups: ['haproxy'] },
  { name: `${CLUSTER}-master-vm-0`, groups: ['kubernetes_master'] },
  { name: `${CLUSTER}-node-vm-0`, groups: ['kubernetes_node'] },
  { name: `${CLUSTER}-rabbitmq-vm-0`, groups: ['rabbitmq'] },
  // The standby first: lsbackup must find the primary itself.
  { name: `${CLUSTER}-postgresql-vm-0`, groups: ['postgresql'] },
  { name: `${CLUSTER}-postgresql-vm-1`, groups: ['postgresql'] },
] as const;
type VmName = (typeof VMS)[number]['name'];
const [KAFKA_VM, KAFKA_VM_1, MONITORING_VM, LOGGING_VM, LB_VM, MASTER_VM, NODE_VM, RABBITMQ_VM, PG_STANDBY_VM, PG_PRIMARY_VM] = VMS.map(
  (v) => v.name,
) as VmName[] as [VmName, VmName, VmName, VmName, VmName, VmName, VmName, VmName, VmName, VmName];
/** Every component the run must back up and restore. */
const COMPONENTS = [
  'host-basics',
  'zookeeper',
  'kafka',
  'prometheus',
  'alertmanager',
  'haproxy',
  'kubernetes',
  'kubernetes-volumes',
  'rabbitmq',
  'postgresql',
  'grafana',
  'elasticsearch',
  'kibana',
];
/** The passwords LambdaStack keeps in manifest.yml (test/fixtures/lambdastack/manifest.yml). */
const GRAFANA_PASSWORD = 'ls-manifest-pw-grafana';
const LOGGING_PASSWORD = 'ls-manifest-pw-logging';
/** Kafka's topics: replicated on both brokers (with LambdaStack's default factor 1, stopping a broker would need --var). */
const TOPICS = { orders: { partitions: 1, replicas: [0, 1], records: ['order-1', 'order-2'] } };

let dir: string;
let fleet: Fleet | undefined;
let build: LambdaStackBuild;
let target: string;
let env: Record<string, string>;
const pidOf: Partial<Record<VmName, number>> = {};
const servicesOf: Partial<Record<VmName, string[]>> = {};
let zk: ZooKeeperService | undefined;
let hap: RuncHaproxy | undefined;
const brokers: KafkaStandIn[] = [];
let pod: EtcdStaticPod | undefined;
let rmq: RabbitmqServer | undefined;
let pg: RepmgrCluster | undefined;
let grafana: GrafanaStandIn | undefined;
let es: ElasticsearchStandIn | undefined;
let kibana: KibanaStandIn | undefined;

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 900_000 });
const pid = (vm: VmName) => pidOf[vm]!;
/** A service of a host, through its systemctl (so it runs in the host's namespace). */
const systemctl = (vm: VmName, verb: string, unit: string) => inHost(pid(vm), ['/usr/local/sbin/systemctl', verb, unit]);

// ---------- the monitoring VM: Prometheus and Alertmanager as LambdaStack configures them ----------

const PROMETHEUS_URL = 'http://127.0.0.1:9090';
const ALERTMANAGER_URL = 'http://127.0.0.1:9093';

/**
 * LambdaStack's binaries for the monitoring VM (roles/prometheus/tasks/install.yml and
 * install-alertmanager.yml unpack them into /usr/local/bin; its units run them from there), and
 * RHEL's sudo, whose secure_path leaves /usr/local/bin out: a recipe run with become must still
 * find them. Debian's copies are hidden on the host and shown at LambdaStack's paths through hard
 * links (a bind of /usr/bin/prometheus itself would show the hidden file).
 */
const MONITORING_BINARIES: Record<string, string> = {
  prometheus: '/usr/bin/prometheus',
  promtool: '/usr/bin/promtool',
  alertmanager: '/usr/bin/prometheus-alertmanager',
};
/**
 * RHEL 8's secure_path (/etc/sudoers: /sbin:/bin:/usr/sbin:/usr/bin), without /usr/local/bin, behind
 * /usr/local/sbin, where the systemctl stand-in is (RHEL's own systemctl is in /usr/bin).
 */
const RHEL_SECURE_PATH = 'Defaults secure_path = /usr/local/sbin:/sbin:/bin:/usr/sbin:/usr/bin\n';

async function monitoringLayout(root: string): Promise<Partial<LambdaStackHostLayout> & { binds: Array<[string, string]> }> {
  const units = join(root, 'units');
  const bin = join(root, 'bin');
  await mkdir(units, { recursive: true });
  await mkdir(bin, { recursive: true });
  const binds: Array<[string, string]> = [];
  for (const [name, debian] of Object.entries(MONITORING_BINARIES)) {
    await link(debian, join(bin, name)).catch(() => copyFile(debian, join(bin, name)));
    binds.push([`/usr/local/bin/${name}`, join(bin, name)]);
  }
  const sudoers = join(root, 'sudoers-secure-path');
  await writeFile(sudoers, RHEL_SECURE_PATH, { mode: 0o440 });
  binds.push(['/etc/sudoers.d/secure-path', sudoers]);
  return {
    binds,
    hide: ['prometheus', 'promtool', 'prometheus-alertmanager', 'amtool'],
    units: {
      prometheus: serviceScript(
        join(units, 'prometheus'),
        [
          '/usr/local/bin/prometheus',
          '--config.file=/etc/prometheus/prometheus.yml',
          '--storage.tsdb.path=/var/lib/prometheus',
          `--web.listen-address=${new URL(PROMETHEUS_URL).host}`,
          '--web.enable-admin-api',
        ],
        join(root, 'prometheus.log'),
      ),
      // LambdaStack's unit is alertmanager.service (roles/prometheus/templates/alertmanager.service.j2).
      alertmanager: serviceScript(
        join(units, 'alertmanager'),
        [
          '/usr/local/bin/alertmanager',
          '--config.file=/etc/prometheus/alertmanager.yml',
          '--storage.path=/var/lib/prometheus/alertmanager',
          `--web.listen-address=${new URL(ALERTMANAGER_URL).host}`,
          '--cluster.listen-address=',
        ],
        join(root, 'alertmanager.log'),
      ),
    },
  };
}

async function startMonitoring(): Promise<void> {
  const vm = MONITORING_VM;
  const at = (p: string) => hostPath(pid(vm), p);
  // LambdaStack's data dir, fresh (this machine's Debian package left files in its own).
  inHost(pid(vm), ['sh', '-c', 'rm -rf /var/lib/prometheus && mkdir -p /var/lib/prometheus/alertmanager']);
  await writeFile(
    at('/etc/prometheus/prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: prometheus',
      '    static_configs:',
      `      - targets: ['${new URL(PROMETHEUS_URL).host}']`,
      'alerting:',
      '  alertmanagers:',
      '    - static_configs:',
      `        - targets: ['${new URL(ALERTMANAGER_URL).host}']`,
      '',
    ].join('\n'),
  );
  await writeFile(at('/etc/prometheus/alertmanager.yml'), 'route:\n  receiver: default\nreceivers:\n  - name: default\n');
  systemctl(vm, 'start', 'prometheus');
  systemctl(vm, 'start', 'alertmanager');
  servicesOf[vm] = ['prometheus', 'alertmanager'];
  await waitUntil('prometheus ready', () => httpOk(`${PROMETHEUS_URL}/-/ready`), { timeoutMs: 120_000 });
  await waitUntil('alertmanager ready', () => httpOk(`${ALERTMANAGER_URL}/-/ready`), { timeoutMs: 120_000 });
}

/** Instant query at `time` (seconds): each series' labels and value. */
async function promQueryAt(promql: string, time: number): Promise<Record<string, string>> {
  const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(promql)}&time=${time}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  expect(body.status).toBe('success');
  return Object.fromEntries(body.data.result.map((r) => [JSON.stringify(r.metric), r.value[1]]));
}

interface Silence {
  id: string;
  comment: string;
  matchers: unknown[];
  status: { state: string };
}
const silences = async (): Promise<Silence[]> => (await (await fetch(`${ALERTMANAGER_URL}/api/v2/silences`)).json()) as Silence[];
const activeSilenceComments = async () =>
  (await silences())
    .filter((s) => s.status.state === 'active')
    .map((s) => s.comment)
    .sort();

// ---------- Grafana and Kibana: the test's own clients ----------

/** Grafana's API as its admin; the test made the certificate, so it skips checking it (the recipe does not). */
async function grafanaApi(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await execa(
    'curl',
    [
      '-sk',
      '-w',
      '\n%{http_code}',
      '-X',
      method,
      '-H',
      'content-type: application/json',
      '-K',
      '-',
      ...(body === undefined ? [] : ['--data-binary', JSON.stringify(body)]),
      `https://127.0.0.1:3000${path}`,
    ],
    { input: `user = "admin:${GRAFANA_PASSWORD}"\n` },
  );
  const cut = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(cut + 1)), body: JSON.parse(r.stdout.slice(0, cut) || 'null') };
}

/** Kibana's API as the logging admin, in the global tenant (where LambdaStack's users share objects). */
async function kibanaApi(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${kibana!.url}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: {
      'content-type': 'application/json',
      'kbn-xsrf': 'e2e',
      securitytenant: 'global',
      authorization: `Basic ${Buffer.from(`admin:${LOGGING_PASSWORD}`).toString('base64')}`,
    },
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// ---------- the Kubernetes master and node ----------

const ETCD_KEYS: Record<string, string> = { '/registry/namespaces/shop': 'ns-shop', '/registry/deployments/shop/web': 'deploy-web' };
const ENCRYPTION_CONF =
  'kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: key1, secret: c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMw==}]}\n';
/** The node's pod uses a hostPath volume (on the node, where its data lives). */
const NODE_VOLUME = '/var/lib/shop-web';
const NODE_CALLS: Record<string, string> = {
  [`get pods -A --field-selector=spec.nodeName=${NODE_VM} -o jsonpath={range .items[*]}{.metadata.namespace}{" "}{.spec.volumes[*].persistentVolumeClaim.claimName}{"\\n"}{end}`]:
    'shop web-data\n',
  'get pvc web-data -n shop -o jsonpath={.spec.volumeName}': 'pv-web',
  'get pv pv-web -o jsonpath={.spec.hostPath.path}{.spec.local.path}': NODE_VOLUME,
};
// The master runs a kubelet too (kubernetes-volumes runs there): no pod of it has a volume.
const MASTER_CALLS: Record<string, string> = {
  [`get pods -A --field-selector=spec.nodeName=${MASTER_VM} -o jsonpath={range .items[*]}{.metadata.namespace}{" "}{.spec.volumes[*].persistentVolumeClaim.claimName}{"\\n"}{end}`]:
    '\n',
};
const etcdValues = () => pod!.values([...Object.keys(ETCD_KEYS), '/registry/after-backup']);

// ---------- PostgreSQL with repmgr ----------

/**
 * A node as LambdaStack lays it out on Debian: configuration in /etc/postgresql/15/main,
 * /etc/repmgr.conf, pgbouncer's in /etc/pgbouncer (the primary's), and the server's Unix socket
 * at /var/run/postgresql/.s.PGSQL.5432 (a link to the test server's, which runs on a free port).
 */
async function postgresLayout(n: RepmgrNode, pgbouncerDir?: string): Promise<Partial<LambdaStackHostLayout>> {
  const run = join(dir, `pg-run-${n.nodeName}`);
  await mkdir(run, { mode: 0o755 });
  await chmod(run, 0o755);
  await symlink(join(n.socketDir, `.s.PGSQL.${n.port}`), join(run, '.s.PGSQL.5432'));
  const conf = (f: string): [string, string] => [`/etc/postgresql/15/main/${f}`, join(n.configDir, f)];
  return {
    binds: [
      ['/run/postgresql', run],
      conf('postgresql.conf'),
      conf('pg_hba.conf'),
      conf('pg_ident.conf'),
      ['/etc/repmgr.conf', n.repmgrConf],
      ...(pgbouncerDir ? [['/etc/pgbouncer', pgbouncerDir] as [string, string]] : []),
    ],
  };
}
const shopState = async () => ({
  rows: await pg!.primary.psql('SELECT count(*), sum(id), max(name) FROM items', 'shop'),
  owner: await pg!.primary.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'"),
});

/** The inventory's groups: each feature-mapping group with its VMs. */
function groupsOf(addresses: Array<{ name: string; address: string }>): Record<string, Array<{ name: string; ip: string }>> {
  const groups: Record<string, Array<{ name: string; ip: string }>> = {};
  VMS.forEach((v, i) => v.groups.forEach((g) => (groups[g] ??= []).push({ name: v.name, ip: addresses[i]!.address })));
  return groups;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-ls-e2e-'));
  await chmod(dir, 0o755);
  target = join(dir, 'backups');
  const home = join(dir, 'home');
  await mkdir(join(home, '.ssh'), { recursive: true });
  env = { HOME: home, SSH_AUTH_SOCK: '' };

  // Servers that run from this machine's side, shown on their host at LambdaStack's paths.
  const zkBase = join(dir, 'zookeeper');
  await mkdir(zkBase);
  zk = await startZooKeeperService(zkBase, { separateDataLogDir: true });
  await zk.start();
  // /opt/zookeeper/lib as LambdaStack's tarball has it (the recipe reads the version there).
  const zkLib = join(zkBase, 'lib');
  await mkdir(zkLib);
  const zkVersion = (await execa('dpkg-query', ['-W', '-f=${Version}', 'zookeeper'])).stdout.replace(/-.*/, '');
  await symlink('/usr/share/java/zookeeper.jar', join(zkLib, `zookeeper-${zkVersion}.jar`));
  hap = await startRuncHaproxy({ id: 'haproxy' });
  const addresses = VMS.map((v, i) => ({ name: v.name, address: `127.0.0.${FIRST_OCTET + i}` }));
  // The brokers of kafka-vm-0 and -1, listening where LambdaStack's server.properties says.
  const liveBrokersDir = join(dir, 'kafka-live-brokers');
  for (const [id, vm] of [KAFKA_VM, KAFKA_VM_1].entries()) {
    const base = join(dir, `kafka-${id}`);
    await mkdir(base);
    brokers.push(
      await startKafkaStandIn({
        baseDir: base,
        zookeeper: zk.zk,
        brokerId: id,
        listener: `PLAINTEXT://${addresses.find((a) => a.name === vm)!.address}:9092`,
        liveBrokersDir,
        topics: TOPICS,
      }),
    );
  }
  /** /opt/kafka as LambdaStack's tarball lays it out: bin, config, libs (the recipe reads the version there). */
  const kafkaLibs = join(dir, 'kafka-libs');
  await mkdir(kafkaLibs);
  await writeFile(join(kafkaLibs, 'kafka_2.12-2.6.0.jar'), '');
  const kafkaLayout = (b: KafkaStandIn): Partial<LambdaStackHostLayout> => ({
    binds: [
      ['/opt/kafka/config', b.configDir],
      ['/opt/kafka/bin', b.binDir],
      ['/opt/kafka/libs', kafkaLibs],
      ['/var/lib/kafka', b.dataDir],
    ],
    units: { kafka: b.serviceScript },
    // LambdaStack installs the release in its own directory and links /opt/kafka to it (roles/kafka).
    links: [['/opt/kafka', '/opt/kafka_2.12-2.6.0']],
  });

  // The master: kubeadm's etcd static pod on 127.0.0.1:2379, its PKI, admin.conf, kubeadm-config.yml.
  const master = join(dir, 'master');
  const etcdSeen = { dataDir: '/var/lib/etcd', pkiDir: '/etc/kubernetes/pki/etcd' };
  pod = await startEtcdStaticPod({
    dir: join(dir, 'etcd-standin'),
    manifestsDir: join(master, 'etc/kubernetes/manifests'),
    dataDir: join(master, 'var/lib/etcd'),
    pkiDir: join(master, 'etc/kubernetes/pki/etcd'),
    seenAt: etcdSeen,
    clientPort: 2379,
  });
  for (const [k, v] of Object.entries(ETCD_KEYS)) await pod.etcdctl(['put', k, v]);
  const stubs = await writeKubeStubs(join(dir, 'kube'), {
    kubectl: {
      'get pv -o json': '{"apiVersion": "v1", "items": [], "kind": "List"}\n',
      'api-resources --verbs=list --namespaced=true -o name': 'configmaps\n',
      'api-resources --verbs=list --namespaced=false -o name': 'namespaces\n',
      ...NODE_CALLS,
      ...MASTER_CALLS,
    },
    nodes: { [NODE_VM]: Object.keys(NODE_CALLS), [MASTER_VM]: Object.keys(MASTER_CALLS) },
  });
  await writeMaster(master, stubs);
  await writeFile(join(master, 'etc/kubernetes/pki/etcd/etc-encryption.conf'), ENCRYPTION_CONF, { mode: 0o600 });
  await writeFile(join(master, 'etc/kubeadm/kubeadm-config.yml'), 'kind: ClusterConfiguration\nkubernetesVersion: v1.20.12\n');
  await writeFile(join(master, 'etc/kubernetes/kubelet.conf'), stubs.nodeKubeconfig(MASTER_VM), { mode: 0o600 });
  const node = join(dir, 'node');
  await mkdir(join(node, 'etc/kubernetes'), { recursive: true });
  await writeFile(join(node, 'etc/kubernetes/kubelet.conf'), stubs.nodeKubeconfig(NODE_VM), { mode: 0o600 });
  const kubeCommands = { kubectl: join(stubs.binDir, 'kubectl'), kubeadm: join(stubs.binDir, 'kubeadm') };

  rmq = await startRabbitmq();
  pg = await startRepmgrCluster();
  grafana = await startGrafanaStandIn({ user: 'admin', password: GRAFANA_PASSWORD, tls: {}, port: 3000 });
  // Grafana's SQLite database (the stand-in keeps its state apart): a real one, as the recipe copies it.
  await execa('sqlite3', [join(grafana.dataDir, 'grafana.db'), 'CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT);']);
  const loggingAddress = addresses.find((a) => a.name === LOGGING_VM)!.address;
  kibana = await startKibanaStandIn({ host: loggingAddress, security: { user: 'admin', password: LOGGING_PASSWORD } });

  const monitoring = await monitoringLayout(join(dir, 'monitoring'));
  const layouts: Record<string, Partial<LambdaStackHostLayout>> = {
    [MASTER_VM]: {
      binds: [
        ['/etc/kubernetes', join(master, 'etc/kubernetes')],
        ['/etc/kubeadm', join(master, 'etc/kubeadm')],
        ['/var/lib/etcd', join(master, 'var/lib/etcd')],
      ],
      hide: ['etcdctl'],
      commands: { crictl: join(pod.binDir, 'crictl'), ...kubeCommands },
    },
    [NODE_VM]: { binds: [['/etc/kubernetes', join(node, 'etc/kubernetes')]], hide: ['etcdctl'], commands: kubeCommands },
    // rabbitmqctl as root finds the node (the infra's wrapper carries its name and cookie).
    [RABBITMQ_VM]: { binds: [['/etc/rabbitmq', rmq.configDir]], commands: { rabbitmqctl: rmq.rabbitmqctlScript } },
    [PG_PRIMARY_VM]: await postgresLayout(pg.primary, pg.pgbouncerDir),
    [PG_STANDBY_VM]: await postgresLayout(pg.standby),
    [KAFKA_VM]: {
      binds: [
        ['/opt/zookeeper/conf', zk.zk.configDir],
        ['/opt/zookeeper/lib', zkLib],
        ['/var/lib/zookeeper', zk.zk.dataDir],
        ['/var/log/zookeeper', zk.zk.dataLogDir],
        ...kafkaLayout(brokers[0]!).binds!,
      ],
      units: { zookeeper: zk.script, ...kafkaLayout(brokers[0]!).units },
      // roles/zookeeper links /opt/zookeeper to the release it unpacked, as roles/kafka does /opt/kafka.
      links: [['/opt/zookeeper', `/opt/zookeeper-${zkVersion}`], ...kafkaLayout(brokers[0]!).links!],
    },
    [KAFKA_VM_1]: kafkaLayout(brokers[1]!),
    [MONITORING_VM]: {
      ...monitoring,
      binds: [...monitoring.binds, ['/etc/grafana', grafana.configDir], ['/var/lib/grafana', grafana.dataDir]],
    },
    [LOGGING_VM]: { binds: [['/etc/kibana', kibana.configDir]] },
    [LB_VM]: {
      binds: [
        ['/opt/runc/haproxy', hap.bundleDir],
        ['/run/runc', hap.stateDir],
        ['/etc/haproxy', hap.configDir],
        ['/etc/ssl/haproxy', hap.sslDir],
      ],
      hide: ['haproxy'],
    },
  };
  const hostsFile = join(dir, 'etc-hosts');
  await writeFile(hostsFile, etcHosts(addresses));
  const setups = VMS.map((v) =>
    hostMountSetup({ name: v.name, dir: join(dir, 'hosts', v.name), binds: [], hide: [], units: {}, ...layouts[v.name] }, hostsFile),
  );
  fleet = await startFleet({ hosts: VMS.length, firstOctet: FIRST_OCTET, port: 22, mountSetup: (name) => setups[Number(name.replace('host', '')) - 1]! });
  VMS.forEach((v, i) => (pidOf[v.name] = fleet!.hosts[i]!.pid));

  await startMonitoring();
  // Open Distro on the logging VM: path.repo and /etc/elasticsearch are the VM's own.
  const loggingRoot = hostPath(pid(LOGGING_VM), '/');
  es = await startElasticsearchStandIn({
    baseDir: await mkdtemp(join(dir, 'es-')),
    pathRepo: ['/var/lib/elasticsearch-snapshots'],
    security: { adminPassword: LOGGING_PASSWORD, hostName: LOGGING_VM, adminExpired: true },
    node: { root: loggingRoot, address: loggingAddress, port: 9200 },
  });
  inHost(pid(LOGGING_VM), ['sh', '-c', `rm -rf /etc/elasticsearch && mkdir /etc/elasticsearch && mount --bind ${es.configDir} /etc/elasticsearch`]);

  build = writeLambdaStackBuild(dir, {
    cluster: CLUSTER,
    groups: groupsOf(addresses),
    adminUser: SUDO_USER,
    privateKey: fleet.clientKey,
  });
}, 600_000);

afterAll(async () => {
  for (const [vm, units] of Object.entries(servicesOf) as Array<[VmName, string[]]>) {
    for (const unit of units) {
      try {
        systemctl(vm, 'stop', unit);
      } catch {
        /* the host is gone already */
      }
    }
  }
  for (const b of brokers) await b.stop();
  await zk?.stop();
  await es?.stop();
  await kibana?.stop();
  await grafana?.stop();
  await pod?.stop();
  await rmq?.stop();
  await pg?.stop();
  await hap?.stop();
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 300_000);

describe('a LambdaStack-shaped cluster, backed up and restored with no --var', () => {
  /** Data as it was backed up, per component, to compare after the restore. */
  const before: Record<string, unknown> = {};
  let sampleTime = 0;

  it('plan of the build dir, with no network at all, lists every component and connects nowhere', async () => {
    const r = await execa('unshare', ['-n', 'node', cliPath, 'plan', '-b', build.dir], { reject: false, stdin: 'ignore', env, timeout: 300_000 });
    const out = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    expect(out.exitCode, cliOutput(out)).toBe(0);
    expect(out.stderr).not.toMatch(/ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|timed out|cannot connect/i);
    // Each component on its group's hosts, with a path or setting that is LambdaStack's.
    const lambdaStackPaths: Record<string, string[]> = {
      'host-basics': ['/etc/hosts'],
      zookeeper: ['/opt/zookeeper/conf', '/var/log/zookeeper/version-2'],
      kafka: ['/opt/kafka/config', '/var/lib/kafka'],
      prometheus: ['/var/lib/prometheus'],
      alertmanager: ['/etc/prometheus/alertmanager.yml'],
      grafana: ['https://localhost:3000', '/etc/grafana/ssl/grafana_cert.pem'],
      elasticsearch: [`https://${LOGGING_VM}:9200`, '/var/lib/elasticsearch-snapshots', '/etc/elasticsearch/lambdastack-root-ca.pem'],
      kibana: ['/etc/kibana'],
      haproxy: ['/opt/runc/haproxy/config.json'],
      kubernetes: ['crictl', '/etc/kubernetes/pki'],
      'kubernetes-volumes': ['/etc/kubernetes/kubelet.conf'],
      rabbitmq: ['/etc/rabbitmq'],
      postgresql: ['/etc/postgresql/*/main', '/etc/repmgr.conf', '/etc/pgbouncer/pgbouncer.ini'],
    };
    for (const c of COMPONENTS) {
      const lines = planSection(out.stdout, c);
      expect(lines, `plan lists ${c}`).toBeDefined();
      for (const p of lambdaStackPaths[c]!) expect(lines, `${c}: ${p}`).toContain(p);
    }
    for (const vm of VMS) expect(planSection(out.stdout, 'host-basics')).toContain(`host ${vm.name} `);
    // Values from manifest.yml (profiles/lambdastack.yaml); its passwords are secrets, never shown.
    expect(out.stdout).toContain('postgresql.repmgr_database = ls_repmgr');
    expect(out.stdout + out.stderr).not.toMatch(/ls-manifest-pw-/);
  }, 300_000);

  it('apply -b <build dir> -t <dir> backs up every component on every host, each a success', async () => {
    // Data each component must bring back.
    await zk!.zk.zkCliBatch(['create /e2e', 'create /e2e/config "colour=blue"', 'create /e2e/leader "node-7"']);
    before.kafka = await Promise.all(brokers.map((b) => b.records('orders')));
    before.etcd = await etcdValues();
    await mkdir(hostPath(pid(NODE_VM), NODE_VOLUME));
    await writeFile(hostPath(pid(NODE_VM), `${NODE_VOLUME}/index.html`), '<h1>shop</h1>\n');
    await rmq!.rabbitmqctl(['-q', 'add_vhost', 'shop']);
    await rmq!.rabbitmqctl(['-q', 'set_policy', '-p', 'shop', '--apply-to', 'queues', 'orders-ttl', '^orders$', '{"message-ttl":60000}']);
    before.rabbitmq = await rmq!.rabbitmqctl(['-q', 'list_policies', '-p', 'shop']);
    await pg!.primary.psql('CREATE DATABASE shop');
    await pg!.primary.psql(
      "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 300) g",
      'shop',
    );
    before.postgresql = await shopState();
    expect(
      (await grafanaApi('POST', '/api/dashboards/db', { dashboard: { uid: 'node-exp', title: 'Node exporter', panels: [] }, overwrite: false })).status,
    ).toBe(200);
    before.grafana = (await grafanaApi('GET', '/api/dashboards/uid/node-exp')).body.dashboard.title;
    expect((await es!.request('PUT', '/audit/_doc/1', { who: 'ann' })).status).toBe(201);
    before.elasticsearch = (await es!.request('GET', '/audit/_doc/1')).body._source;
    expect((await kibanaApi('POST', '/api/saved_objects/dashboard/ops', { attributes: { title: 'Ops' } })).status).toBe(200);
    before.kibana = (await kibanaApi('GET', '/api/saved_objects/dashboard/ops')).body.attributes;
    await waitUntil(
      'a few self-scrapes',
      async () => Number(Object.values(await promQueryAt('count_over_time(up{job="prometheus"}[1m])', Date.now() / 1000))[0] ?? 0) >= 3,
      { timeoutMs: 120_000 },
    );
    sampleTime = Math.floor(Date.now() / 1000) - 1;
    before.prometheus = await promQueryAt('count_over_time(up{job="prometheus"}[1m])', sampleTime);
    const now = Date.now();
    const res = await fetch(`${ALERTMANAGER_URL}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false }],
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 86_400_000).toISOString(),
        createdBy: 'e2e',
        comment: 'maintenance window',
      }),
    });
    expect(res.status).toBe(200);
    before.alertmanager = await activeSilenceComments();
    const v1 = hap!.configText('v1');
    await writeFile(hap!.configFile, v1);
    await hap!.reload();
    before.haproxy = v1;

    const r = await cli(['apply', '-b', build.dir, '-t', target]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/--var/);
    // The key the inventory names inside the lscli container is taken from the build dir.
    expect(r.stderr).toContain(`ssh key ${build.containerKeyPath} (as the inventory names it) is not on this machine; using the same file in the build dir`);
    // The manifest's passwords are secrets: used, never shown.
    expect(r.stdout + r.stderr).not.toMatch(/ls-manifest-pw-/);
    const archives = await archivesIn(target);
    expect(archives).toHaveLength(1);
    const meta = await readMetadata(join(target, archives[0]!));
    expect(meta.status).toBe('success');
    const statuses = Object.fromEntries(meta.components.map((c) => [c.name, c.status]));
    expect(statuses).toEqual(Object.fromEntries(COMPONENTS.map((c) => [c, 'success'])));
    // Every component's version was found (recorded in metadata.json; a recipe's appliesTo is
    // checked against it), also Prometheus' and Alertmanager's in /usr/local/bin under RHEL's sudo.
    const versioned = (name: string) => parse(readFileSync(join(RECIPES_DIR, `${name}.yaml`), 'utf8')).spec.version !== undefined;
    const unknownVersions = meta.components.filter((c) => versioned(c.name) && !c.componentVersion).map((c) => c.name);
    expect(unknownVersions).toEqual([]);
    // On the hosts of its group: every one (run: all), or one (run: first).
    const hostsOf = (c: string) =>
      meta.components
        .find((x) => x.name === c)!
        .hosts.filter((h) => h.status === 'success')
        .map((h) => h.name)
        .sort();
    expect(hostsOf('host-basics')).toEqual(VMS.map((v) => v.name).sort());
    expect(hostsOf('kafka')).toEqual([KAFKA_VM, KAFKA_VM_1]);
    expect(hostsOf('postgresql')).toEqual([PG_STANDBY_VM, PG_PRIMARY_VM]);
    // Every master and worker runs it (each copies its own pods' volumes; the master has none).
    expect(hostsOf('kubernetes-volumes')).toEqual([MASTER_VM, NODE_VM].sort());
    for (const [c, vm] of [
      ['zookeeper', KAFKA_VM],
      ['prometheus', MONITORING_VM],
      ['alertmanager', MONITORING_VM],
      ['grafana', MONITORING_VM],
      ['elasticsearch', LOGGING_VM],
      ['kibana', LOGGING_VM],
      ['haproxy', LB_VM],
      ['kubernetes', MASTER_VM],
      ['rabbitmq', RABBITMQ_VM],
    ] as const) {
      expect(hostsOf(c), c).toEqual([vm]);
    }
  }, 900_000);

  it('restore latest -b <build dir> --yes brings every component back as backed up', async () => {
    // Destroy: changes after the backup, and wiped data.
    await zk!.zk.zkCliBatch(['set /e2e/config "colour=red"', 'create /e2e/late "x"', 'delete /e2e/leader']);
    for (const b of brokers) await b.produce('orders', 'order-after-backup');
    await pod!.etcdctl(['put', '/registry/after-backup', 'later']);
    await pod!.etcdctl(['del', '/registry/namespaces/shop']);
    await writeFile(hostPath(pid(NODE_VM), `${NODE_VOLUME}/index.html`), 'defaced\n');
    await rmq!.rabbitmqctl(['-q', 'delete_vhost', 'shop']);
    await pg!.primary.psql('DROP DATABASE shop');
    await grafanaApi('DELETE', '/api/dashboards/uid/node-exp');
    await es!.request('DELETE', '/audit');
    await kibanaApi('DELETE', '/api/saved_objects/dashboard/ops');
    systemctl(MONITORING_VM, 'stop', 'prometheus');
    inHost(pid(MONITORING_VM), ['sh', '-c', 'cd /var/lib/prometheus && find . -mindepth 1 -maxdepth 1 ! -name alertmanager -exec rm -rf {} +']);
    systemctl(MONITORING_VM, 'start', 'prometheus');
    await waitUntil('prometheus ready', () => httpOk(`${PROMETHEUS_URL}/-/ready`), { timeoutMs: 120_000 });
    expect(await promQueryAt('count_over_time(up{job="prometheus"}[1m])', sampleTime)).toEqual({});
    for (const s of await silences()) if (s.status.state === 'active') await fetch(`${ALERTMANAGER_URL}/api/v2/silence/${s.id}`, { method: 'DELETE' });
    expect(await activeSilenceComments()).toEqual([]);
    await writeFile(hap!.configFile, hap!.configText('v2'));
    await hap!.reload();
    // Kafka's and ZooKeeper's configuration live in the releases /opt/kafka and /opt/zookeeper
    // link to: the restore writes them back through those links (the host's own), which stay links.
    const releaseLinks = [
      [KAFKA_VM, '/opt/kafka'],
      [KAFKA_VM, '/opt/zookeeper'],
      [KAFKA_VM_1, '/opt/kafka'],
    ] as const;
    // (Read at their bind sources here: the links' absolute targets resolve only inside the hosts.)
    const configFiles = [join(brokers[1]!.configDir, 'server.properties'), join(zk!.zk.configDir, 'zoo.cfg')];
    const configsBefore = await Promise.all(configFiles.map((f) => readFile(f, 'utf8')));
    for (const f of configFiles) await appendFile(f, '# changed after the backup\n');

    const r = await cli(['restore', 'latest', '-b', build.dir, '-t', target, '--yes']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/ls-manifest-pw-/);
    // promtool in /usr/local/bin, outside RHEL's secure_path, still checked the restored
    // prometheus.yml (the warning as printed, not the step's text in the plan: no `$promtool`).
    expect(cliOutput(r)).not.toMatch(/prometheus: [^\s$]*promtool\S* not found/);

    expect(await Promise.all(configFiles.map((f) => readFile(f, 'utf8')))).toEqual(configsBefore);
    for (const [vm, l] of releaseLinks)
      expect(inHost(pid(vm), ['readlink', l]).trim(), `${vm}:${l}`).toMatch(/^\/opt\/(kafka_2\.12-2\.6\.0|zookeeper-[0-9.]+)$/);
    // zookeeper: the znodes as backed up, later changes not replayed.
    await zk!.ready();
    expect(await zk!.znodeData('/e2e/config')).toBe('colour=blue');
    expect(await zk!.znodeData('/e2e/leader')).toBe('node-7');
    expect(await zk!.zk.zkCli(['ls', '/e2e'])).toMatch(/\[config, leader\]/);
    // kafka: each broker's partition holds the records of the backup, not the later one.
    expect(await Promise.all(brokers.map((b) => b.records('orders')))).toEqual(before.kafka);
    expect(await Promise.all(brokers.map((b) => b.state()))).toEqual(['running', 'running']);
    // kubernetes: etcd as backed up (the static pod restarted on the restored member), the API
    // server stopped while it was (never running while etcd went back) and running again, the
    // node's volume data.
    await pod!.running();
    expect(await etcdValues()).toEqual(before.etcd);
    expect(await pod!.apiServerFaults()).toEqual([]);
    await pod!.controlPlaneRunning();
    expect(await readFile(hostPath(pid(NODE_VM), `${NODE_VOLUME}/index.html`), 'utf8')).toBe('<h1>shop</h1>\n');
    // rabbitmq: the vhost and its policy.
    expect(await rmq!.rabbitmqctl(['-q', 'list_policies', '-p', 'shop'])).toBe(before.rabbitmq);
    // postgresql: the database on the primary, and the standby replays it.
    expect(await shopState()).toEqual(before.postgresql);
    await waitUntil('standby has the restored rows', async () => (await pg!.standby.psql('SELECT count(*) FROM items', 'shop').catch(() => '')) === '300', {
      timeoutMs: 120_000,
    });
    // grafana, elasticsearch, kibana: the dashboard, the document, the saved object.
    expect((await grafanaApi('GET', '/api/dashboards/uid/node-exp')).body?.dashboard?.title).toBe(before.grafana);
    expect((await es!.request('GET', '/audit/_doc/1')).body._source).toEqual(before.elasticsearch);
    expect((await kibanaApi('GET', '/api/saved_objects/dashboard/ops')).body.attributes).toEqual(before.kibana);
    // Restores that share data run one after the other: Kibana's saved objects live in
    // Elasticsearch's .kibana indices, which the elasticsearch restore closes and replaces;
    // LambdaStack's alertmanager.yml is in /etc/prometheus, which the prometheus restore puts back.
    const log = r.stderr.split('\n');
    for (const [first, then, vm] of [
      ['elasticsearch', 'kibana', LOGGING_VM],
      ['prometheus', 'alertmanager', MONITORING_VM],
    ] as const) {
      expect.soft(r.stderr).toMatch(new RegExp(`^- ${then} with recipe ${then}@\\S+, after ${first}$`, 'm'));
      const ended = log.findIndex((l) => l.startsWith(`${first}: success`));
      expect.soft(ended, `${first} ended`).toBeGreaterThan(-1);
      expect
        .soft(
          log.findIndex((l) => l.includes(`${then} @ ${vm}: started`)),
          `${then} started after ${first} ended`,
        )
        .toBeGreaterThan(ended);
    }
    // prometheus: the samples of the backup are queryable again.
    await waitUntil('prometheus ready', () => httpOk(`${PROMETHEUS_URL}/-/ready`), { timeoutMs: 120_000 });
    expect(await promQueryAt('count_over_time(up{job="prometheus"}[1m])', sampleTime)).toEqual(before.prometheus);
    // alertmanager: the silence is back.
    expect(await activeSilenceComments()).toEqual(before.alertmanager);
    // haproxy: the container serves the restored configuration.
    expect(await readFile(hap!.containerPath('/etc/haproxy/haproxy.cfg'), 'utf8')).toBe(before.haproxy);
    await waitUntil("haproxy serves 'v1'", async () => (await (await fetch(`http://127.0.0.1:${hap!.port}/`)).text()) === 'v1', { timeoutMs: 120_000 });
  }, 900_000);
});
