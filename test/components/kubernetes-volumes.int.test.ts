/**
 * recipes/kubernetes-volumes.yaml through the built CLI over SSH: persistent volume data backed
 * up on the node where it lives and put back there. Two workers and a second master (sshd fleet,
 * sharing this machine's filesystem, so each has its own root dir); each holds the volume of its
 * own pod (the master's in another namespace, for a restore of chosen namespaces). The full
 * restore is the recipe's own round trip (`recipe test`, its tests: section).
 * STAND-IN: kubectl (test/infra/standins/kubernetes.ts) — no API server runs here. The workers
 * hold only their kubelet's kubeconfig (user system:node:<name>), and the stand-in answers a
 * node only the reads the node authorizer allows it (its pods, their claims and volumes):
 * listing every volume, as the master's recipe does, is Forbidden.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmod, lchown, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeKubeStubs } from '../infra/standins/kubernetes.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { archiveLines, readMetadata } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, RECIPES_DIR, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip, recipeTest, ROUND_TRIP_STAGES } from '../helpers/recipe-test.js';

let fleet: Fleet;
let cluster: Cluster;
const PODS_JSONPATH = 'jsonpath={range .items[*]}{.metadata.namespace}{" "}{.spec.volumes[*].persistentVolumeClaim.claimName}{"\\n"}{end}';
const PV_JSONPATH = 'jsonpath={.spec.hostPath.path}{.spec.local.path}';
const root = (host: string) => join(cluster.dir, 'nodes', host);
/**
 * The volume of each node's pod: host1 a `local` PV, host2 a hostPath PV (and an NFS one, not node
 * data), host3 (a master, not the first) a `local` PV of namespace monitoring.
 */
const volume = (host: string) => (host === 'host2' ? join(root(host), 'srv', 'web') : join(root(host), 'mnt', 'disks', 'ssd1'));
const FILE: Record<string, [string, string]> = {
  host1: ['db.bin', 'local volume on worker 1\n'],
  host2: ['index.html', '<h1>worker 2</h1>\n'],
  host3: ['tsdb.bin', 'local volume on master 2\n'],
};
const HOSTS = ['host1', 'host2', 'host3'];

beforeAll(async () => {
  fleet = await startFleet({ hosts: 3 });
  cluster = await createCluster({ fleet, groups: { host1: ['kubernetes_node'], host2: ['kubernetes_node'], host3: ['kubernetes_master'] } });
  const calls: Record<string, string[]> = {
    host1: [
      `get pods -A --field-selector=spec.nodeName=host1 -o ${PODS_JSONPATH}`,
      'get pvc data-db-0 -n shop -o jsonpath={.spec.volumeName}',
      `get pv pv-local-1 -o ${PV_JSONPATH}`,
    ],
    host2: [
      `get pods -A --field-selector=spec.nodeName=host2 -o ${PODS_JSONPATH}`,
      'get pvc web-data -n shop -o jsonpath={.spec.volumeName}',
      'get pvc cache -n shop -o jsonpath={.spec.volumeName}',
      `get pv pv-web -o ${PV_JSONPATH}`,
      `get pv pv-nfs -o ${PV_JSONPATH}`,
    ],
    host3: [
      `get pods -A --field-selector=spec.nodeName=host3 -o ${PODS_JSONPATH}`,
      'get pvc tsdb -n monitoring -o jsonpath={.spec.volumeName}',
      `get pv pv-local-m2 -o ${PV_JSONPATH}`,
    ],
  };
  const answers = [
    'shop data-db-0\nkube-system \n',
    'pv-local-1',
    volume('host1'),
    'shop web-data cache\n',
    'pv-web',
    'pv-nfs',
    volume('host2'),
    '',
    'monitoring tsdb\n',
    'pv-local-m2',
    volume('host3'),
  ];
  const keys = [...calls.host1!, ...calls.host2!, ...calls.host3!];
  const stubs = await writeKubeStubs(join(cluster.dir, 'kube'), {
    kubectl: { ...Object.fromEntries(keys.map((k, i) => [k, answers[i]!])), 'get pv -o json': '{"items": []}\n' },
    nodes: calls,
  });
  for (const host of HOSTS) {
    const [name, content] = FILE[host]!;
    await mkdir(volume(host), { recursive: true });
    await writeFile(join(volume(host), name), content);
    await mkdir(join(root(host), 'etc', 'kubernetes'), { recursive: true });
    await mkdir(join(root(host), 'tmp'));
    await writeFile(join(root(host), 'etc', 'kubernetes', 'kubelet.conf'), stubs.nodeKubeconfig(host), { mode: 0o600 });
    await cluster.hostVars(host, {
      k8s_kubectl: join(stubs.binDir, 'kubectl'),
      k8s_node_kubeconfig: join(root(host), 'etc', 'kubernetes', 'kubelet.conf'),
      k8s_tmp_dir: join(root(host), 'tmp'),
    });
  }
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  await cluster?.cleanup();
});

describe('kubernetes-volumes recipe', () => {
  let archive: string;

  it('backs up on each node, masters too, the data of the volumes its own pods use, once each, with only the kubelet credentials', async () => {
    const r = await cluster.apply(RECIPES_DIR, ['--only', 'kubernetes-volumes']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    archive = r.archive!;
    const everyTar = HOSTS.map((h) => `tar xzOf '${archive}' kubernetes-volumes/${h}/persistent-volumes.tar | tar tf -`).join('; ');
    const members = (await execa('sh', ['-c', everyTar])).stdout.split('\n');
    for (const host of HOSTS) {
      expect(
        members.filter((m) => m === join(volume(host), FILE[host]![0]).slice(1)),
        `${host}'s volume is in the backup once`,
      ).toHaveLength(1);
    }
    expect(await archiveLines(archive, 'kubernetes-volumes/host3/persistent-volume-namespaces.txt')).toEqual([`monitoring ${volume('host3')}`]);
    for (const host of HOSTS) {
      expect(await archiveLines(archive, `kubernetes-volumes/${host}/persistent-volumes.txt`)).toEqual([volume(host)]);
      const [name, content] = FILE[host]!;
      const tar = `tar xzOf '${archive}' kubernetes-volumes/${host}/persistent-volumes.tar | tar xOf - '${join(volume(host), name).slice(1)}'`;
      expect((await execa('sh', ['-c', tar])).stdout + '\n').toBe(content);
    }
  }, 300_000);

  it('a node may not list every volume: the stand-in refuses it as the API server would', async () => {
    const r = await execa(
      join(cluster.dir, 'kube', 'bin', 'kubectl'),
      ['--kubeconfig', join(root('host1'), 'etc', 'kubernetes', 'kubelet.conf'), 'get', 'pv', '-o', 'json'],
      { reject: false },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Forbidden.*User "system:node:host1" cannot get resource "persistentvolumes"/);
  });

  it("round-trips through recipe test: a marker file in each node's volumes, backed up there, removed, put back there", async () => {
    await expectRoundTrip(shippedRecipe('kubernetes-volumes'), ['-b', cluster.build], { env: cluster.env });
    for (const host of HOSTS) {
      const [name, content] = FILE[host]!;
      expect((await readdir(volume(host))).sort()).toEqual([name, 'lsbackup-recipe-test'].sort());
      expect(await readFile(join(volume(host), 'lsbackup-recipe-test'), 'utf8')).toBe('lsbackup-recipe-test\n');
      expect(await readFile(join(volume(host), name), 'utf8')).toBe(content);
      expect(await readdir(join(root(host), 'tmp')), 'temporary files removed').toEqual([]);
    }
  }, 600_000);

  it('the round trip fails at check, naming the marker, when the restore leaves the volume data out', async () => {
    const run = await recipeTest(shippedRecipe('kubernetes-volumes'), ['-b', cluster.build, '--var', 'kubernetes-volumes.k8s_restore_pv_data=false'], {
      env: cluster.env,
    });
    expect(run.exitCode, cliOutput(run)).toBe(3);
    expect(run.stages.map((s) => `${s.stage} ${s.status}`)).toEqual([...ROUND_TRIP_STAGES.slice(0, -1).map((s) => `${s} success`), 'check failed']);
    expect(cliOutput(run)).toMatch(/lsbackup: \S+\/lsbackup-recipe-test is not back/);
    for (const host of HOSTS) await expect(readFile(join(volume(host), 'lsbackup-recipe-test'))).rejects.toThrow(/ENOENT/);
  }, 600_000);

  it("puts back only the volumes of the chosen namespaces, wherever they live; a link another user put at the run's temp name in k8s_tmp_dir is not written through", async () => {
    for (const host of HOSTS) await rm(volume(host), { recursive: true });
    // k8s_tmp_dir is shared (/var/tmp), and a restore's temp names hold the backup's id, which the
    // hosts' command lines showed: another user linked the name to a file of root's.
    const tmp = join(root('host3'), 'tmp');
    await chmod(tmp, 0o1777);
    const precious = join(cluster.dir, 'precious');
    await writeFile(precious, 'root only\n', { mode: 0o600 });
    const planted = join(tmp, `lsbackup-node-pv-${(await readMetadata(archive)).backupId}.restore`);
    await symlink(precious, planted);
    await lchown(planted, 65534, 65534);
    const r = await cluster.restore(archive, ['--only', 'kubernetes-volumes', '--var', 'kubernetes-volumes.k8s_namespaces=monitoring']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await readFile(precious, 'utf8'), "nothing written through the other user's link").toBe('root only\n');
    expect(await readFile(join(volume('host3'), FILE.host3![0]), 'utf8')).toBe(FILE.host3![1]);
    for (const host of ['host1', 'host2']) await expect(readdir(volume(host)), `${host}'s volume is of namespace shop`).rejects.toThrow(/ENOENT/);
    for (const host of HOSTS) expect(await readdir(join(root(host), 'tmp')), 'temporary files removed').toEqual([]);
  }, 300_000);
});
