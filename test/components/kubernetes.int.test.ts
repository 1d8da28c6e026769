/**
 * recipes/kubernetes.yaml through the built CLI over SSH (sshd fleet), with a REAL etcd 3.4:
 * keys put -> backup -> etcd stopped and its data dir gone -> restore into a fresh data dir
 * -> etcd started on it -> keys equal. PKI, kubeconfigs, kubeadm config and volume data
 * come back too, and the data of NFS-backed volumes, read from the export directory: the master
 * is the NFS server here (REAL files; this kernel has no NFS, so the mount path is not exercised).
 * A full restore onto a rebuilt cluster's master (host2, another CA) is refused before anything changes.
 * `recipe test` (the recipe's tests: section) round-trips only a static pod (kubernetes-static-pod.int.test.ts):
 * here its check fails, as etcd from packages is started on the restored data by the operator.
 * STAND-INS: `kubectl` and `kubeadm` are stub scripts (test/infra/standins/kubernetes.ts)
 * answering from fixtures — no API server runs here. This is etcd as Debian packages it
 * (etcdctl on PATH, plain http, so the recipe's TLS vars are switched off); etcd as kubeadm
 * and LambdaStack run it (a static pod, TLS, no etcdctl on the host) is kubernetes-static-pod.int.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmod, mkdir, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startEtcd, type EtcdServer } from '../infra/servers/etcd.js';
import { KUBE_FIXTURES, writeKubeStubs, type KubeStubs } from '../infra/standins/kubernetes.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { archiveEntries, archiveEntry, archiveLines, readMetadata } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, RECIPES_DIR, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { recipeTest, ROUND_TRIP_STAGES } from '../helpers/recipe-test.js';
import { writeMaster } from './kubernetes-master.js';

let fleet: Fleet;
let cluster: Cluster;
let etcd: EtcdServer | undefined;
let restored: EtcdServer | undefined;
let stubs: KubeStubs;
let root: string; // stands in for the master's /
const KEYS: Record<string, string> = {
  '/registry/namespaces/shop': 'ns-shop',
  '/registry/deployments/shop/web': 'deploy-web',
  '/registry/configmaps/kube-system/kubeadm-config': 'kubeadm-config',
};

const LIST = (kind: string, name: string) =>
  `apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: ${kind}\n  metadata:\n    name: ${name}\n    namespace: shop\nkind: List\n`;
const etc = () => join(root, 'etc', 'kubernetes');
const pvHostPath = () => join(root, 'var', 'lib', 'pv-web-data');
const pvLocal = () => join(root, 'mnt', 'disks', 'ssd1');
/** An NFS export this master serves (two volumes on it: copied once). */
const nfsExport = () => join(root, 'exports', 'shared');
let nfsServer: string;
/** The recipe vars of the master (host1; host2 in the rebuilt cluster, at the same paths). */
let hostVars: Record<string, unknown>;
const restoreDataDir = () => join(cluster.dir, 'etcd-restored', 'data');

beforeAll(async () => {
  // host2: the master of a rebuilt cluster (the last test).
  fleet = await startFleet({ hosts: 2 });
  cluster = await createCluster({ fleet, groups: { host1: ['kubernetes_master'] } });
  root = join(cluster.dir, 'root');
  await mkdir(join(etc(), 'pki', 'etcd'), { recursive: true });
  await mkdir(join(root, 'etc', 'kubeadm'), { recursive: true });
  await mkdir(join(root, 'tmp'));
  await writeFile(join(etc(), 'scheduler.conf'), 'apiVersion: v1\nkind: Config\n', { mode: 0o600 });
  await writeFile(join(etc(), 'pki', 'ca.crt'), 'CA CERT\n');
  await writeFile(join(etc(), 'pki', 'ca.key'), 'CA KEY\n', { mode: 0o600 });
  await writeFile(join(etc(), 'pki', 'etcd', 'ca.crt'), 'ETCD CA\n');
  await writeFile(join(root, 'etc', 'kubeadm', 'kubeadm-config.yml'), 'kind: ClusterConfiguration\nkubernetesVersion: v1.22.4\n');
  await mkdir(pvHostPath(), { recursive: true });
  await writeFile(join(pvHostPath(), 'index.html'), '<h1>shop</h1>\n');
  await mkdir(pvLocal(), { recursive: true });
  await writeFile(join(pvLocal(), 'db.bin'), 'local volume data\n');
  await writeNfsData();
  nfsServer = fleet.hosts[0]!.address;

  // The PV list of the fixtures, with volume paths inside this test's root, plus a `local` PV.
  const pvs = JSON.parse(await readFile(join(KUBE_FIXTURES, 'get-pv.json'), 'utf8'));
  pvs.items[0].spec.hostPath.path = pvHostPath();
  pvs.items.push({ ...pvs.items[0], metadata: { name: 'pv-local' }, spec: { local: { path: pvLocal() }, storageClassName: 'local' } });
  for (const name of ['pv-nfs', 'pv-nfs-2']) pvs.items.push({ ...pvs.items[0], metadata: { name }, spec: { nfs: { path: nfsExport(), server: nfsServer } } });
  stubs = await writeKubeStubs(join(cluster.dir, 'kube'), {
    kubectl: {
      'get pv -o json': JSON.stringify(pvs, null, 4) + '\n',
      'api-resources --verbs=list --namespaced=true -o name': 'configmaps\nevents\npersistentvolumeclaims\nsecrets\ndeployments.apps\n',
      'api-resources --verbs=list --namespaced=false -o name': 'namespaces\npersistentvolumes\n',
      // Content for the kinds left out by default, so the archive shows whether they were.
      'get secrets -A -o yaml': LIST('Secret', 'web-tls'),
      'get events -A -o yaml': LIST('Event', 'web.17a2b3c4'),
    },
  });
  const masterVars = await writeMaster(root, stubs);

  etcd = await startEtcd();
  for (const [k, v] of Object.entries(KEYS)) await etcd.etcdctl(['put', k, v]);

  hostVars = {
    ...masterVars,
    // This master's local/hostPath volumes copied here too (a cluster backed up without kubernetes-volumes).
    k8s_pv_data: true,
    k8s_etcd_endpoint: etcd.endpoint,
    k8s_etcd_tls: false,
    k8s_etcd_snapshot_dir: join(root, 'tmp'),
    k8s_etcd_restore_data_dir: restoreDataDir(),
    k8s_etcd_name: 'n1',
    k8s_etcd_peer_url: `http://127.0.0.1:${etcd.peerPort}`,
  };
  await cluster.hostVars('host1', hostVars);
}, 180_000);

afterAll(async () => {
  await restored?.stop();
  await etcd?.stop();
  await fleet?.stop();
  await cluster?.cleanup();
});

/** Files on the NFS export, with a subdirectory and a relative symlink. */
async function writeNfsData(): Promise<void> {
  await mkdir(join(nfsExport(), '2026'), { recursive: true });
  await writeFile(join(nfsExport(), '2026', 'jan.csv'), 'month,total\njan,42\n');
  await symlink('2026/jan.csv', join(nfsExport(), 'latest.csv'));
}

/** kind/name of every item in the archive's resources.yaml. */
async function savedResources(archive: string): Promise<string[]> {
  const docs = parseAllDocuments(await archiveEntry(archive, 'kubernetes/host1/resources.yaml')).map((d) => d.toJS());
  return docs.flatMap((d) => d.items.map((i: { kind: string; metadata: { name: string } }) => `${i.kind}/${i.metadata.name}`));
}

describe('kubernetes recipe', () => {
  let archive: string;

  it("recipe test on etcd from packages: restore writes the backup's state into a fresh data dir, and the check fails, as etcd runs on its old data until started there", async () => {
    const base = join(cluster.dir, 'etcd-recipe-test');
    const run = await recipeTest(shippedRecipe('kubernetes'), ['-b', cluster.build, '--var', `kubernetes.k8s_etcd_restore_data_dir=${join(base, 'data')}`], {
      env: cluster.env,
    });
    expect(run.exitCode, cliOutput(run)).toBe(3);
    expect(run.stages.map((s) => `${s.stage} ${s.status}`)).toEqual([...ROUND_TRIP_STAGES.slice(0, -1).map((s) => `${s} success`), 'check failed']);
    expect(cliOutput(run)).toMatch(
      /etcd does not hold the state of the backup: key lsbackup-recipe-test is '' .*lsbackup-recipe-test-later .* is 'lsbackup-recipe-test'/,
    );
    expect(cliOutput(run)).toMatch(
      /etcd is not a static pod here .*: the restore wrote the snapshot into \S*etcd-recipe-test\/data and etcd still runs on its old data/,
    );
    // Started on the restored data dir, etcd holds the state of the backup: the check's verdict is etcd's, not the restore's.
    const started = await startEtcd({ baseDir: base });
    try {
      expect((await started.etcdctl(['get', 'lsbackup-recipe-test', '--print-value-only'])).trim()).toBe('lsbackup-recipe-test');
      expect((await started.etcdctl(['get', 'lsbackup-recipe-test-later', '--print-value-only'])).trim()).toBe('');
    } finally {
      await started.stop();
    }
    expect(await readdir(join(root, 'tmp')), 'temporary files removed').toEqual([]);
  }, 600_000);

  it('backs up the etcd snapshot, configs, resources and volume data', async () => {
    const r = await cluster.apply(RECIPES_DIR, ['--only', 'kubernetes']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    archive = r.archive!;
    const entries = await archiveEntries(archive);
    const files = `kubernetes/host1/files${etc()}`;
    expect(entries).toEqual(
      expect.arrayContaining([
        'kubernetes/host1/etcd-snapshot.db',
        `${files}/pki/ca.key`,
        `${files}/pki/etcd/ca.crt`,
        `${files}/admin.conf`,
        `${files}/scheduler.conf`,
        `kubernetes/host1/files${root}/etc/kubeadm/kubeadm-config.yml`,
      ]),
    );
    expect(await archiveEntry(archive, 'kubernetes/host1/etcd-snapshot-status.txt')).toMatch(/HASH.*REVISION.*TOTAL KEYS/);
    expect(await archiveEntry(archive, 'kubernetes/host1/kubeadm-config-configmap.yaml')).toMatch(/name: kubeadm-config/);

    const saved = await savedResources(archive);
    expect(saved).toEqual(expect.arrayContaining(['Deployment/web', 'Namespace/shop', 'PersistentVolumeClaim/web-data']));
    expect(saved, 'secrets are left out unless asked').not.toContain('Secret/web-tls');
    expect(saved, 'excluded kinds are left out').not.toContain('Event/web.17a2b3c4');

    expect((await archiveLines(archive, 'kubernetes/host1/persistent-volumes.txt')).sort()).toEqual([pvLocal(), pvHostPath()].sort());
    expect(await archiveLines(archive, 'kubernetes/host1/persistent-volumes-nfs.txt'), 'each NFS export once').toEqual([`${nfsServer}:${nfsExport()}`]);
    const nfsTar = (await execa('sh', ['-c', `tar xzOf '${archive}' kubernetes/host1/persistent-volumes-nfs.tar | tar tvf - --ignore-zeros`])).stdout.split(
      '\n',
    );
    const inNfs = `${nfsServer}${nfsExport()}`;
    expect(
      nfsTar.filter((l) => l.endsWith(`${inNfs}/2026/jan.csv`)),
      'the export copied once',
    ).toHaveLength(1);
    expect(
      nfsTar.some((l) => l.endsWith(`${inNfs}/latest.csv -> 2026/jan.csv`)),
      'symlink targets kept',
    ).toBe(true);
    const pvTar = (await execa('sh', ['-c', `tar xzOf '${archive}' kubernetes/host1/persistent-volumes.tar | tar tf -`])).stdout;
    expect(pvTar).toContain(`${pvHostPath().slice(1)}/index.html`);
    expect(pvTar).toContain(`${pvLocal().slice(1)}/db.bin`);
    expect(await readdir(join(root, 'tmp')), 'temporary snapshot removed in post').toEqual([]);
  }, 300_000);

  it("restores etcd into a fresh data dir, and PKI, configs and volume data; another user's directory at the run's work path in k8s_tmp_dir is not used", async () => {
    expect(archive).toBeDefined();
    // k8s_tmp_dir is shared (/var/tmp), and the backup's id shows on the host's command lines: another
    // user made the restore's work directory first, with a link where the export's files go and a
    // list of "mount points" the restore's post unmounts and removes.
    const tmp = join(root, 'tmp');
    await chmod(tmp, 0o1777);
    const planted = join(tmp, `lsbackup-nfs-${(await readMetadata(archive)).backupId}`);
    const elsewhere = join(cluster.dir, 'elsewhere');
    const notAMount = join(cluster.dir, 'not-a-mount');
    await mkdir(elsewhere);
    await mkdir(notAMount);
    const link = join(planted, 'links', `${nfsServer}${nfsExport()}`);
    await mkdir(dirname(link), { recursive: true });
    await symlink(elsewhere, link);
    await writeFile(join(planted, 'mounts'), `${notAMount}\n`);
    await execa('chown', ['-hR', '65534:65534', planted]);

    await etcd!.stop(); // removes its data dir
    etcd = undefined;
    await rm(join(etc(), 'pki'), { recursive: true });
    await rm(join(etc(), 'admin.conf'));
    await writeFile(join(etc(), 'scheduler.conf'), 'damaged\n');
    await rm(pvHostPath(), { recursive: true });
    await rm(pvLocal(), { recursive: true });
    for (const f of await readdir(nfsExport())) await rm(join(nfsExport(), f), { recursive: true });

    const r = await cluster.restore(archive);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    restored = await startEtcd({ baseDir: join(cluster.dir, 'etcd-restored') });
    for (const [k, v] of Object.entries(KEYS)) expect((await restored.etcdctl(['get', k, '--print-value-only'])).trim()).toBe(v);

    expect(await readFile(join(etc(), 'pki', 'ca.key'), 'utf8')).toBe('CA KEY\n');
    expect(await readFile(join(etc(), 'pki', 'etcd', 'ca.crt'), 'utf8')).toBe('ETCD CA\n');
    expect(await readFile(join(etc(), 'scheduler.conf'), 'utf8')).toBe('apiVersion: v1\nkind: Config\n');
    expect(await readFile(join(etc(), 'admin.conf'), 'utf8')).toMatch(/kubernetes-admin/);
    expect(await readFile(join(pvHostPath(), 'index.html'), 'utf8')).toBe('<h1>shop</h1>\n');
    expect(await readFile(join(pvLocal(), 'db.bin'), 'utf8')).toBe('local volume data\n');
    expect(await readFile(join(nfsExport(), '2026', 'jan.csv'), 'utf8')).toBe('month,total\njan,42\n');
    expect(await readlink(join(nfsExport(), 'latest.csv'))).toBe('2026/jan.csv');
    expect(await readdir(elsewhere), "nothing written through the other user's link").toEqual([]);
    expect((await stat(notAMount)).isDirectory(), "a directory the other user's list names is not removed").toBe(true);
    expect(await readdir(join(root, 'tmp')), "temporary files removed, the other user's directory with them").toEqual([]);
  }, 300_000);

  it('refuses to restore etcd over an existing data dir', async () => {
    const r = await cluster.restore(archive);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/exists; etcd is restored only into a fresh data directory/);
    for (const [k, v] of Object.entries(KEYS)) expect((await restored!.etcdctl(['get', k, '--print-value-only'])).trim()).toBe(v);
  }, 300_000);

  it('includes secrets when asked', async () => {
    const r = await cluster.apply(RECIPES_DIR, [
      '--only',
      'kubernetes',
      '--var',
      'kubernetes.k8s_include_secrets=true',
      '--var',
      `kubernetes.k8s_etcd_endpoint=${restored!.endpoint}`,
    ]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.archive).toBeDefined();
    expect(await savedResources(r.archive!)).toContain('Secret/web-tls');
  }, 300_000);

  it('fails naming the NFS export and the fix when it is neither served here nor mountable, and leaves nothing mounted', async () => {
    // A cluster whose only NFS volume is on another server: this master must mount it, with the
    // real `mount -t nfs`, which cannot work here (no NFS in this kernel, and the name does not resolve).
    const far = await writeKubeStubs(join(cluster.dir, 'kube-far-nfs'), {
      kubectl: {
        'get pv -o json':
          JSON.stringify({
            items: [
              { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv-far' }, spec: { nfs: { server: 'nfs-far.invalid', path: '/exports/far' } } },
            ],
          }) + '\n',
        'api-resources --verbs=list --namespaced=true -o name': 'configmaps\n',
        'api-resources --verbs=list --namespaced=false -o name': 'namespaces\n',
      },
    });
    const kubeconfig = join(etc(), 'admin-far.conf');
    await writeFile(kubeconfig, far.kubeconfigText, { mode: 0o600 });
    try {
      const r = await cluster.apply(RECIPES_DIR, [
        '--only',
        'kubernetes',
        '--var',
        `kubernetes.k8s_kubectl=${join(far.binDir, 'kubectl')}`,
        '--var',
        `kubernetes.k8s_kubeconfig=${kubeconfig}`,
        '--var',
        `kubernetes.k8s_etcd_endpoint=${restored!.endpoint}`,
      ]);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(cliOutput(r)).toMatch(
        /cannot mount the NFS export nfs-far\.invalid:\/exports\/far on host1 \(is an NFS client installed\? .*--var kubernetes\.k8s_nfs_data=false/,
      );
      expect(await readdir(join(root, 'tmp')), 'mount point and lists removed').toEqual([]);
    } finally {
      await rm(kubeconfig);
    }
  }, 300_000);

  it("re-applies chosen namespaces into a rebuilt cluster: dry run first, Velero's order, their volume data back", async () => {
    expect(archive).toBeDefined();
    await rm(pvHostPath(), { recursive: true });
    await rm(pvLocal(), { recursive: true });
    const before = (await stubs.calls()).length;

    const r = await cluster.restore(archive, ['--only', 'kubernetes', '--var', 'kubernetes.k8s_namespaces=shop']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    type Item = { kind: string; metadata: Record<string, unknown>; status?: unknown };
    const stages = (await stubs.applied()).map((doc) => (JSON.parse(doc) as { items: Item[] }).items);
    expect(stages.map((items) => items.map((i) => `${i.kind}/${String(i.metadata.name)}`).sort())).toEqual([
      ['Namespace/shop'],
      ['PersistentVolume/pv-web-data', 'PersistentVolumeClaim/web-data'],
      ['ConfigMap/web-config'],
      ['Deployment/web'],
    ]);
    for (const i of stages.flat()) {
      expect(i.metadata, `${i.kind} carries nothing of the old cluster`).not.toHaveProperty('resourceVersion');
      expect(i.metadata).not.toHaveProperty('uid');
      expect(i).not.toHaveProperty('status');
    }
    // Each stage went through a server-side dry run right before it was applied.
    const applies = (await stubs.calls())
      .slice(before)
      .filter((c) => c.args.includes('apply'))
      .map((c) => `${c.args.includes('--dry-run=server') ? 'dry run' : 'apply'} ${basename(c.args[c.args.indexOf('-f') + 1]!)}`);
    expect(applies).toEqual(['1.json', '2.json', '3.json', '4.json'].flatMap((f) => [`dry run ${f}`, `apply ${f}`]));
    expect(await readFile(join(pvHostPath(), 'index.html'), 'utf8')).toBe('<h1>shop</h1>\n');
    await expect(readdir(pvLocal()), 'a volume of no chosen namespace is left alone').rejects.toThrow(/ENOENT/);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  }, 300_000);

  it('names a namespace the backup does not have, and applies nothing', async () => {
    const before = (await stubs.applied()).length;
    const r = await cluster.restore(archive, ['--only', 'kubernetes', '--var', 'kubernetes.k8s_namespaces=shop,nosuch']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/namespace\(s\) not in this backup: nosuch \(it has: default, shop\)/);
    expect((await stubs.applied()).length).toBe(before);
  }, 300_000);

  // Disaster recovery into a rebuilt cluster: its master (another inventory name, at the same
  // paths) has the CA kubeadm made for the new cluster. The old cluster's etcd, PKI and
  // kubeconfigs there would cut its nodes off: refused before anything is stopped or written.
  it("refuses a full restore onto a rebuilt cluster's master (another CA), naming the fix; namespaces are re-applied there", async () => {
    expect(archive).toBeDefined();
    const rebuilt = await createCluster({ fleet, groups: { host2: ['kubernetes_master'] } });
    const ca = join(etc(), 'pki', 'ca.crt');
    const before = await readFile(ca, 'utf8');
    try {
      await writeFile(ca, 'NEW CLUSTER CA\n');
      // A fresh restore dir, as on a new VM; the old cluster's NFS server (host1) cannot be mounted here.
      await rebuilt.hostVars('host2', { ...hostVars, k8s_etcd_restore_data_dir: join(rebuilt.dir, 'etcd-restored', 'data'), k8s_nfs_data: false });
      const scheduler = await readFile(join(etc(), 'scheduler.conf'), 'utf8');
      const calls = (await stubs.calls()).length;

      const r = await rebuilt.restore(archive, ['--only', 'kubernetes']);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(await readFile(ca, 'utf8')).toBe('NEW CLUSTER CA\n');
      expect(await readFile(join(etc(), 'scheduler.conf'), 'utf8')).toBe(scheduler);
      expect((await stubs.calls()).length, 'kubectl not called').toBe(calls);
      expect(cliOutput(r)).toMatch(
        /this master's cluster CA \(\S+ca\.crt, sha256 [0-9a-f]{64}\) is not the backup's \([0-9a-f]{64}\): it belongs to another cluster/,
      );
      expect(cliOutput(r)).toContain('--var kubernetes.k8s_namespaces=a,b');
      expect(cliOutput(r)).toContain('--var kubernetes.k8s_restore_other_cluster=true');

      const namespaces = await rebuilt.restore(archive, ['--only', 'kubernetes', '--var', 'kubernetes.k8s_namespaces=shop']);
      expect(namespaces.exitCode, cliOutput(namespaces)).toBe(0);
      expect(await readFile(ca, 'utf8')).toBe('NEW CLUSTER CA\n');
    } finally {
      await writeFile(ca, before);
      await rebuilt.cleanup();
    }
  }, 300_000);
});
