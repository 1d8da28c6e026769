/**
 * A Kubernetes master's files under a test's temp root (the fleet hosts share this machine's
 * filesystem, so kubeadm's paths move there), and the recipe vars that point at them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeStubs } from '../infra/standins/kubernetes.js';

export const kubeDirs = (root: string) => ({
  etc: join(root, 'etc', 'kubernetes'),
  kubeadmConfig: join(root, 'etc', 'kubeadm', 'kubeadm-config.yml'),
  tmp: join(root, 'tmp'),
});

/** admin.conf for the stand-in cluster, the kubeadm and tmp dirs; returns the recipe vars for them. */
export async function writeMaster(root: string, stubs: KubeStubs): Promise<Record<string, string>> {
  const d = kubeDirs(root);
  for (const dir of [join(d.etc, 'pki'), join(root, 'etc', 'kubeadm'), d.tmp]) await mkdir(dir, { recursive: true });
  await writeFile(join(d.etc, 'admin.conf'), stubs.kubeconfigText, { mode: 0o600 });
  return {
    k8s_kubectl: join(stubs.binDir, 'kubectl'),
    k8s_kubeadm: join(stubs.binDir, 'kubeadm'),
    k8s_kubeconfig: join(d.etc, 'admin.conf'),
    k8s_config_dir: d.etc,
    k8s_pki_dir: join(d.etc, 'pki'),
    k8s_kubeadm_config_file: d.kubeadmConfig,
    k8s_tmp_dir: d.tmp,
  };
}
