// kubectl/kubeadm here are STAND-INS (test/infra/standins/kubernetes.ts) generated into a
// test PATH; they are called through a real shell, as a recipe step would.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { writeKubeStubs, type KubeStubs } from './standins/kubernetes.js';
import { runChecked } from './servers/common.js';

let dir: string;
let stubs: KubeStubs;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsb-infra-kube-'));
  stubs = await writeKubeStubs(dir, { kubectl: { 'get pods -n kube-system -l component=etcd -o name': 'pod/etcd-master1\n' } });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const sh = (script: string, input?: string) =>
  runChecked('sh', ['-c', script], { env: { ...process.env, PATH: `${stubs.binDir}:${process.env.PATH}`, KUBECONFIG: stubs.kubeconfig }, input });

describe('kubectl/kubeadm stand-in', () => {
  it('answers the calls a Kubernetes recipe makes, in any spelling kubectl accepts', async () => {
    expect((await sh('kubectl get ns')).stdout).toMatch(/^shop +Active/m);
    const deploys = parse((await sh(`kubectl --kubeconfig=${stubs.kubeconfig} get deploy --all-namespaces -oyaml`)).stdout);
    expect(deploys.items[0].metadata.name).toBe('web');
    const pv = JSON.parse((await sh('kubectl get persistentvolumes -o json')).stdout);
    expect(pv.items[0].spec.claimRef.name).toBe('web-data');
    const cm = parse((await sh('kubectl -n kube-system get configmap kubeadm-config -o=yaml')).stdout);
    expect(parse(cm.data.ClusterConfiguration).kubernetesVersion).toBe('v1.22.4');
    expect(parse((await sh('kubectl get secrets -A -o yaml')).stdout).items).toEqual([]);
    expect((await sh('kubectl get pods -n kube-system -l component=etcd -o name')).stdout).toBe('pod/etcd-master1\n');
    expect((await sh('kubeadm version -o short')).stdout.trim()).toBe('v1.22.4');
  });

  it('reads its kubeconfig like kubectl: a missing one or one naming another API server fails', async () => {
    await expect(sh('kubectl --kubeconfig /nonexistent/admin.conf get ns')).rejects.toThrow(/error: stat \/nonexistent\/admin.conf: no such file or directory/);
    await expect(sh('HOME=/nonexistent; unset KUBECONFIG; kubectl get ns')).rejects.toThrow(/connection to the server localhost:8080 was refused/);
    const other = join(dir, 'other.conf');
    await writeFile(other, (await readFile(stubs.kubeconfig, 'utf8')).replace('127.0.0.1:6443', '10.0.0.9:6443'));
    await expect(sh(`kubectl --kubeconfig=${other} get ns`)).rejects.toThrow(/Unable to connect to the server: dial tcp 10.0.0.9:6443/);
    expect((await sh(`KUBECONFIG=${other} kubectl --kubeconfig ${stubs.kubeconfig} get ns`)).stdout).toMatch(/^shop +Active/m);
  });

  it('applies like the API server: no objects in a missing namespace (not even in a dry run), no resourceVersion on create', async () => {
    const list = (items: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'blog' } };
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'blog' } };
    await expect(sh('kubectl apply --dry-run=server -f -', list([ns, cm]))).rejects.toThrow(/namespaces "blog" not found/);
    expect((await sh('kubectl apply --dry-run=client -f -', list([ns, cm]))).stdout).toBe(
      'namespace/blog configured (client dry run)\nconfigmap/c configured (client dry run)\n',
    );
    await expect(sh('kubectl apply --dry-run=maybe -f -', list([ns]))).rejects.toThrow(/Invalid dry-run value \(maybe\)/);
    await expect(sh('kubectl apply -f -', list([{ ...cm, metadata: { ...cm.metadata, namespace: 'default', resourceVersion: '12' } }]))).rejects.toThrow(
      /resourceVersion should not be set on objects to be created/,
    );
    const applied = (await stubs.applied()).length;
    expect((await sh('kubectl apply -f -', list([ns]))).stdout).toBe('namespace/blog configured\n');
    expect((await sh('kubectl apply --dry-run=server -f -', list([cm]))).stdout).toBe('configmap/c configured (server dry run)\n');
    expect((await stubs.applied()).length, 'dry runs are not applied').toBe(applied + 1);
  });

  it('fails like kubectl on a call it has no answer for', async () => {
    await expect(sh('kubectl get widgets -A -o yaml')).rejects.toThrow(/doesn't have a resource type "widgets"/);
  });

  it('logs every call and keeps what was applied', async () => {
    const doc = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n';
    expect((await sh('kubectl apply -f -', doc)).stdout).toBe('namespace/shop configured\n');
    expect((await stubs.applied()).at(-1)).toBe(doc);
    const calls = await stubs.calls();
    expect(calls.at(-1)).toEqual({ command: 'kubectl', args: ['apply', '-f', '-'] });
    expect(calls.some((c) => c.command === 'kubeadm')).toBe(true);
  });
});
