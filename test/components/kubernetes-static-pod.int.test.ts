/**
 * recipes/kubernetes.yaml on a master laid out as kubeadm/LambdaStack lay it out, through the
 * built CLI over SSH: etcd is a static pod (manifest in /etc/kubernetes/manifests) serving TLS
 * with client certificates, and the host has NO etcdctl — the recipe finds the etcd container
 * through the container runtime and runs the etcdctl in it. The recipe's own round trip
 * (`recipe test`, its tests: section): backup, then a restore that stops the API server,
 * controller manager and scheduler and then etcd, puts the snapshot into a fresh data dir, swaps
 * it in and starts etcd and then the others again.
 *
 * REAL: etcd 3.4 (Debian etcd-server) with kubeadm's PKI names, sshd, sudo.
 * STAND-INS (test/infra/standins/etcd-static-pod.ts, kubernetes.ts), as no kubelet, container
 * runtime or API server can run here: the "kubelet" that runs each static pod while its manifest
 * is in place, an API server that records etcd's revision going back under it, `crictl` (exec
 * runs the "image's" etcdctl, kept off PATH), `kubectl`/`kubeadm`.
 * The sshd runs in a mount namespace of its own where the machine's etcdctl is hidden and
 * /usr/local/sbin holds crictl. The master's paths live under a temp root (the fleet shares
 * this machine's filesystem), so host_vars move them there; nothing else is configured —
 * k8s_etcdctl in particular stays unset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellQuote } from '../../engine/template/quote.js';
import { startEtcdStaticPod, type EtcdStaticPod } from '../infra/standins/etcd-static-pod.js';
import { writeKubeStubs } from '../infra/standins/kubernetes.js';
import { SUDO_USER, startFleet, type Fleet } from '../fleet/fleet.js';
import { archiveEntries, archiveEntry, storedBackup } from '../helpers/archive.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { cliOutput } from '../helpers/cli.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';
import { writeMaster } from './kubernetes-master.js';

let dir: string;
let root: string; // the master's /
let pod: EtcdStaticPod | undefined;
let fleet: Fleet | undefined;
let cluster: Cluster | undefined;
const KEYS: Record<string, string> = {
  '/registry/namespaces/shop': 'ns-shop',
  '/registry/deployments/shop/web': 'deploy-web',
};
const etc = () => join(root, 'etc', 'kubernetes');
const etcdPki = () => join(etc(), 'pki', 'etcd');
const dataDir = () => join(root, 'var', 'lib', 'etcd');
const ENCRYPTION_CONF =
  'kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: key1, secret: c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMw==}]}\n';
const KUBEADM_CONFIG = 'kind: ClusterConfiguration\nkubernetesVersion: v1.22.4\n';

/** Runs a shell command on the fleet host as root, over SSH (the host's own view: its mount namespace). */
async function onHost(script: string) {
  const h = fleet!.hosts[0]!;
  return execa(
    'ssh',
    [
      '-i',
      fleet!.clientKey,
      '-p',
      String(h.port),
      '-o',
      `UserKnownHostsFile=${fleet!.knownHosts}`,
      '-o',
      'BatchMode=yes',
      `${SUDO_USER}@${h.address}`,
      `sudo sh -c ${shellQuote(script)}`,
    ],
    { reject: false },
  );
}

const etcdValues = () => pod!.values([...Object.keys(KEYS), 'lsbackup-recipe-test-later']);
const MANIFESTS = ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'];
const manifests = async () => (await readdir(join(etc(), 'manifests'))).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-k8s-master-'));
  await chmod(dir, 0o755);
  root = join(dir, 'root');
  pod = await startEtcdStaticPod({
    dir: join(dir, 'standin'),
    manifestsDir: join(etc(), 'manifests'),
    dataDir: dataDir(),
    pkiDir: etcdPki(),
  });
  const hidden = join(dir, 'not-etcdctl');
  fleet = await startFleet({
    hosts: 1,
    mountSetup: [
      `mount --bind ${shellQuote(pod.binDir)} /usr/local/sbin`,
      `if e=$(command -v etcdctl); then : > ${shellQuote(hidden)}; mount --bind ${shellQuote(hidden)} "$e"; fi`,
    ].join('\n'),
  });
  cluster = await createCluster({ fleet, groups: { host1: ['kubernetes_master'] } });

  const stubs = await writeKubeStubs(join(dir, 'kube'), {
    kubectl: {
      'get pv -o json': '{"apiVersion": "v1", "items": [], "kind": "List"}\n',
      'api-resources --verbs=list --namespaced=true -o name': 'configmaps\n',
      'api-resources --verbs=list --namespaced=false -o name': 'namespaces\n',
    },
  });
  const masterVars = await writeMaster(root, stubs);
  await writeFile(join(etc(), 'pki', 'ca.key'), 'CA KEY\n', { mode: 0o600 });
  await writeFile(join(etcdPki(), 'etc-encryption.conf'), ENCRYPTION_CONF, { mode: 0o600 });
  await writeFile(join(root, 'etc', 'kubeadm', 'kubeadm-config.yml'), KUBEADM_CONFIG);
  for (const [k, v] of Object.entries(KEYS)) await pod.etcdctl(['put', k, v]);

  await cluster.hostVars('host1', {
    ...masterVars,
    k8s_etcd_endpoint: pod.endpoint, // kubeadm's port is 2379; a free one here
    k8s_etcd_cacert: join(etcdPki(), 'ca.crt'),
    k8s_etcd_cert: join(etcdPki(), 'healthcheck-client.crt'),
    k8s_etcd_key: join(etcdPki(), 'healthcheck-client.key'),
    k8s_etcd_manifest: pod.manifest,
    k8s_etcd_manifest_parked: join(etc(), 'etcd.yaml.lsbackup-restore'),
    k8s_etcd_data_dir: dataDir(),
    k8s_etcd_snapshot_dir: dataDir(),
    k8s_etcd_restore_data_dir: join(dataDir(), 'lsbackup-restored'),
  });
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  await pod?.stop();
  await cluster?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kubernetes recipe, etcd as a kubeadm static pod without etcdctl on the host', () => {
  let archive: string;

  it('the host has no etcdctl on PATH, and crictl finds the etcd container', async () => {
    const r = await onHost('command -v etcdctl; echo "rc=$?"; crictl ps --quiet --name etcd --state running');
    expect(r.stdout, 'command -v etcdctl finds nothing').toMatch(/^rc=[1-9][0-9]*$/m);
    expect(r.stdout).toMatch(/^[0-9a-f]{64}$/m);
  }, 60_000);

  it('round-trips through recipe test: etcd backed up through the container, then the static pod swapped onto the restored data', async () => {
    // The recipe's tests: etcd, PKI and kubeadm-config marked, backed up, verified, the marks
    // deleted and a key written after the backup, restored (manifest out, snapshot into a fresh
    // data dir swapped in, manifest back), then etcd holds the backup's state and the files their marks.
    await expectRoundTrip(shippedRecipe('kubernetes'), ['-b', cluster!.build, '-t', cluster!.target], { env: cluster!.env });
    archive = (await storedBackup(cluster!.target)).file;

    const files = `kubernetes/host1/files${etc()}`;
    expect(await archiveEntries(archive)).toEqual(
      expect.arrayContaining(['kubernetes/host1/etcd-snapshot.db', `${files}/pki/etcd/healthcheck-client.key`, `${files}/admin.conf`]),
    );
    expect(await archiveEntry(archive, `${files}/pki/etcd/etc-encryption.conf`)).toBe(ENCRYPTION_CONF);
    expect(await archiveEntry(archive, `kubernetes/host1/files${root}/etc/kubeadm/kubeadm-config.yml`)).toBe(`${KUBEADM_CONFIG}# lsbackup-recipe-test\n`);
    expect(await archiveEntry(archive, 'kubernetes/host1/etcd-snapshot-status.txt')).toMatch(/HASH.*REVISION.*TOTAL KEYS/);
    // The snapshot in the archive holds the keys: read it back with this machine's etcdctl.
    const snap = join(dir, 'check.db');
    await execa('sh', ['-c', `tar xzOf ${shellQuote(archive)} kubernetes/host1/etcd-snapshot.db > ${shellQuote(snap)}`]);
    expect(
      JSON.parse((await execa('etcdctl', ['snapshot', 'status', snap, '-w', 'json'], { env: { ETCDCTL_API: '3' } })).stdout).totalKey,
    ).toBeGreaterThanOrEqual(Object.keys(KEYS).length + 1);

    // Restore post waited until etcd answered again; the test's own client sees the pod up too.
    await pod!.running();
    expect(await etcdValues()).toEqual(KEYS);
    // The API server was stopped before etcd went back to the snapshot and started after it came
    // back (kubeadm's procedure): it never ran while etcd's revision went back. So were the
    // controller manager and the scheduler; all run again.
    expect(await pod!.apiServerFaults()).toEqual([]);
    expect(pod!.starts()).toEqual({ etcd: 2, 'kube-apiserver': 2, 'kube-controller-manager': 2, 'kube-scheduler': 2 });
    await pod!.controlPlaneRunning();
    expect(await manifests()).toEqual(MANIFESTS);
    expect((await readdir(etc())).filter((f) => f.includes('lsbackup'))).toEqual([]);
    const left = (await readdir(dataDir())).filter((f) => f.startsWith('lsbackup-'));
    expect(left, 'the replaced member dir is kept aside; no fresh dir or snapshot left').toEqual([expect.stringMatching(/^lsbackup-replaced-\d{8}T\d{6}Z$/)]);
    expect(await readdir(join(dataDir(), left[0]!))).toEqual(['member']);
    expect(await readFile(join(etcdPki(), 'etc-encryption.conf'), 'utf8')).toBe(ENCRYPTION_CONF);
  }, 600_000);

  it('refuses a restore when the fresh data dir exists, and leaves the running etcd alone', async () => {
    expect(archive).toBeDefined();
    await mkdir(join(dataDir(), 'lsbackup-restored'));
    try {
      const r = await cluster!.restore(archive);
      expect(r.exitCode).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/exists; etcd is restored only into a fresh data directory/);
      expect(await manifests()).toEqual(MANIFESTS);
      expect(await etcdValues()).toEqual(KEYS);
    } finally {
      await rm(join(dataDir(), 'lsbackup-restored'), { recursive: true });
    }
  }, 300_000);

  it('refuses a restore while a manifest an earlier restore parked is still there, and changes nothing', async () => {
    expect(archive).toBeDefined();
    const leftover = join(etc(), 'kube-scheduler.yaml.lsbackup-restore');
    await writeFile(leftover, 'kind: Pod\n');
    const startsBefore = pod!.starts();
    try {
      const r = await cluster!.restore(archive);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/kube-scheduler\.yaml\.lsbackup-restore exists \(a manifest an earlier restore parked\?\)/);
      expect(await manifests()).toEqual(MANIFESTS);
      expect(await readFile(leftover, 'utf8'), 'restore post leaves a manifest that is also in its place').toBe('kind: Pod\n');
      expect(pod!.starts()).toEqual(startsBefore);
      expect(await etcdValues()).toEqual(KEYS);
      expect((await readdir(dataDir())).filter((f) => f === 'lsbackup-restored')).toEqual([]);
    } finally {
      await rm(leftover);
    }
  }, 300_000);

  // LambdaStack's HA control plane (use_ha_control_plane) runs a stacked etcd member on every
  // master. The other master's member is a learner here (it never starts, so the one-member etcd
  // keeps its quorum): what the restore must see is that etcd lists a member besides this one.
  it('refuses to restore etcd on this master alone while etcd lists other members (an HA control plane), and leaves etcd alone', async () => {
    expect(archive).toBeDefined();
    const added = await pod!.etcdctl(['member', 'add', 'master-vm-1', '--learner', '--peer-urls=https://127.0.0.2:2380']);
    // etcdctl prints the id with %16x: one of 16 ids starts with a 0 nibble and comes space-padded.
    const id = /Member\s+([0-9a-f]+) added/.exec(added)?.[1];
    expect(id, added).toBeDefined();
    try {
      const r = await cluster!.restore(archive);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/etcd has 2 members \([^)]*(master-vm-1|127\.0\.0\.2:2380)[^)]*\): restored on this master alone/);
      expect(await manifests()).toEqual(MANIFESTS);
      expect(await etcdValues()).toEqual(KEYS);
      expect((await readdir(dataDir())).filter((f) => f === 'lsbackup-restored')).toEqual([]);
      // Told that the other members are taken care of, it restores here (a new one-member cluster).
      const allowed = await cluster!.restore(archive, ['--var', 'kubernetes.k8s_etcd_allow_other_members=true']);
      expect(allowed.exitCode, cliOutput(allowed)).toBe(0);
      await pod!.running();
      expect(await etcdValues()).toEqual(KEYS);
      expect(await pod!.apiServerFaults()).toEqual([]);
      await pod!.controlPlaneRunning();
    } finally {
      // (Gone with the restore's new cluster when it ran.)
      await pod!.etcdctl(['member', 'remove', id!]).catch(() => undefined);
    }
  }, 600_000);
});
