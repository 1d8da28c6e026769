/**
 * etcd as kubeadm runs it on a LambdaStack master: a static pod (manifest in
 * /etc/kubernetes/manifests/etcd.yaml), TLS on https://127.0.0.1:2379 with client
 * certificates, and no etcdctl on the host — only inside the etcd container.
 *
 * etcd itself is REAL (servers/etcd.ts, Debian etcd-server). Two STAND-INS, because no
 * kubelet and no container runtime can run here:
 * - "kubelet": this process watches the manifest; while it is in the manifests dir the
 *   etcd runs, when it is moved out the etcd is stopped (as kubelet stops a removed static
 *   pod), when it is back the etcd starts again on the same data dir and ports.
 * - `crictl` (in `binDir`, a generated shell script): `ps --quiet --name <re> --state running`
 *   lists the etcd container while it runs (a new id per start); `exec <id> etcdctl …` runs
 *   the etcdctl of the "image" (a copy kept off PATH) with an empty environment, as in the
 *   container. The container sees only kubeadm's two hostPath mounts (the etcd data dir and
 *   pki/etcd): an absolute path argument outside them fails as it would inside the
 *   container. Not imitated: pulling images, pod sandboxes, logs, any other crictl command
 *   (refused).
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { shellQuote as q } from '../../../engine/template/quote.js';
import { freePorts, pathExists, runChecked, waitUntil } from '../servers/common.js';
import { startEtcd, type EtcdServer } from '../servers/etcd.js';
import { writeEtcdPki, type EtcdPki } from '../servers/etcd-pki.js';

export interface EtcdStaticPodOptions {
  /** The stand-in's own files (crictl, the image's etcdctl, container state, etcd logs). */
  dir: string;
  /** kubeadm's /etc/kubernetes/manifests. */
  manifestsDir: string;
  /** kubeadm's /var/lib/etcd (hostPath mounted into the container at the same path). */
  dataDir: string;
  /** kubeadm's /etc/kubernetes/pki/etcd (hostPath mounted likewise); the PKI is written here. */
  pkiDir: string;
  /**
   * Where the master sees dataDir and pkiDir when that is not here (a host in a mount namespace
   * of its own, test/helpers/lambdastack-hosts.ts, sees them at kubeadm's paths): the manifest's
   * hostPath volumes and the container's mounts name these.
   */
  seenAt?: { dataDir: string; pkiDir: string };
  /** The client port (kubeadm's is 2379); default: a free one. */
  clientPort?: number;
}

export interface EtcdStaticPod {
  /** Holds `crictl`; put it where the host's (sudo's) PATH finds it. */
  binDir: string;
  manifest: string;
  dataDir: string;
  pki: EtcdPki;
  /** https://127.0.0.1:<port>, the same across restarts. */
  endpoint: string;
  clientPort: number;
  /** The test's own etcdctl against the pod (with the client certificate), not the recipe's. */
  etcdctl(args: string[]): Promise<string>;
  /** The values of these keys that exist (a key without a value is left out). */
  values(keys: string[]): Promise<Record<string, string>>;
  /** Resolves once the "kubelet" has the etcd running / stopped (generous deadline). */
  running(): Promise<void>;
  stopped(): Promise<void>;
  /** Stops the watcher and the etcd. */
  stop(): Promise<void>;
}

const WAIT_MS = 60_000;
const MEMBER = 'master1';

export async function startEtcdStaticPod(o: EtcdStaticPodOptions): Promise<EtcdStaticPod> {
  const binDir = join(o.dir, 'bin');
  const imageDir = join(o.dir, 'image');
  const stateFile = join(o.dir, 'etcd.container');
  for (const d of [binDir, imageDir, o.manifestsDir, o.dataDir]) await mkdir(d, { recursive: true });
  const pki = await writeEtcdPki(o.pkiDir);
  const [free, peer] = (await freePorts(2)) as [number, number];
  const client = o.clientPort ?? free;
  const seen = o.seenAt ?? { dataDir: o.dataDir, pkiDir: o.pkiDir };
  const manifest = join(o.manifestsDir, 'etcd.yaml');
  await writeFile(manifest, kubeadmManifest(seen.dataDir, seen.pkiDir, client, peer));
  // The image's etcdctl: a copy outside every PATH, so only `crictl exec` reaches it.
  await copyFile((await runChecked('sh', ['-c', 'command -v etcdctl'])).stdout.trim(), join(imageDir, 'etcdctl'));
  await writeFile(join(binDir, 'crictl'), crictlScript(stateFile, join(imageDir, 'etcdctl'), [seen.dataDir, seen.pkiDir]), { mode: 0o755 });

  let etcd: EtcdServer | undefined;
  let busy: Promise<void> = Promise.resolve();
  let stopping = false;
  let lastError: Error | undefined;
  const reconcile = async () => {
    const wanted = !stopping && (await pathExists(manifest));
    if (wanted && !etcd) {
      etcd = await startEtcd({ baseDir: join(o.dir, 'pod'), dataDir: o.dataDir, ports: { client, peer }, pki, name: MEMBER });
      await writeFile(stateFile, randomBytes(32).toString('hex') + '\n');
    } else if (!wanted && etcd) {
      await rm(stateFile, { force: true });
      await etcd.stop();
      etcd = undefined;
    }
  };
  // The kubelet's file check (it polls its static pod path too).
  const timer = setInterval(() => {
    busy = busy.then(reconcile).catch((e: Error) => void (lastError = e));
  }, 200);
  const until = (what: string, up: boolean) =>
    waitUntil(
      `etcd static pod ${what}`,
      async () => {
        if (lastError) throw lastError;
        return up ? etcd !== undefined && (await pathExists(stateFile)) : etcd === undefined;
      },
      { timeoutMs: WAIT_MS },
    );
  const pod: EtcdStaticPod = {
    binDir,
    manifest,
    dataDir: o.dataDir,
    pki,
    endpoint: `https://127.0.0.1:${client}`,
    clientPort: client,
    etcdctl: (args) => {
      if (!etcd) throw new Error('etcd static pod is not running');
      return etcd.etcdctl(args);
    },
    values: async (keys) => {
      const out: Record<string, string> = {};
      for (const k of keys) {
        const v = (await pod.etcdctl(['get', k, '--print-value-only'])).trim();
        if (v) out[k] = v;
      }
      return out;
    },
    running: () => until('running', true),
    stopped: () => until('stopped', false),
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      await busy;
      await reconcile();
    },
  };
  await pod.running();
  return pod;
}

/** The parts of kubeadm's etcd.yaml that matter here (image, data dir, certs, hostPath mounts). */
function kubeadmManifest(dataDir: string, pkiDir: string, port: number, peerPort: number): string {
  return `apiVersion: v1
kind: Pod
metadata:
  labels: {component: etcd, tier: control-plane}
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://127.0.0.1:${port}
    - --cert-file=${pkiDir}/server.crt
    - --client-cert-auth=true
    - --data-dir=${dataDir}
    - --initial-advertise-peer-urls=http://127.0.0.1:${peerPort}
    - --initial-cluster=${MEMBER}=http://127.0.0.1:${peerPort}
    - --key-file=${pkiDir}/server.key
    - --listen-client-urls=https://127.0.0.1:${port}
    - --listen-peer-urls=http://127.0.0.1:${peerPort}
    - --name=${MEMBER}
    - --trusted-ca-file=${pkiDir}/ca.crt
    image: k8s.gcr.io/etcd:3.4.13-0
    name: etcd
    volumeMounts:
    - {mountPath: ${dataDir}, name: etcd-data}
    - {mountPath: ${pkiDir}, name: etcd-certs}
  hostNetwork: true
  volumes:
  - hostPath: {path: ${pkiDir}, type: DirectoryOrCreate}
    name: etcd-certs
  - hostPath: {path: ${dataDir}, type: DirectoryOrCreate}
    name: etcd-data
`;
}

function crictlScript(stateFile: string, etcdctl: string, mounts: string[]): string {
  return `#!/bin/sh
# crictl: STAND-IN for the container runtime (no container runtime can run here), generated
# by test/infra/standins/etcd-static-pod.ts. Knows one container: the etcd static pod's.
state=${q(stateFile)}
running=$(cat "$state" 2>/dev/null)
cmd=$1; [ $# -gt 0 ] && shift
case "$cmd" in
ps)
  quiet=; name=; st=
  while [ $# -gt 0 ]; do
    case "$1" in
      -q|--quiet) quiet=1 ;;
      --name) name=$2; shift ;;
      --name=*) name=\${1#--name=} ;;
      -s|--state) st=$2; shift ;;
      --state=*) st=\${1#--state=} ;;
      *) echo "crictl: flag provided but not defined: $1 (stand-in)" >&2; exit 1 ;;
    esac
    shift
  done
  [ -z "$quiet" ] && echo "CONTAINER           IMAGE               CREATED             STATE               NAME                ATTEMPT             POD ID"
  [ -n "$running" ] || exit 0
  case "$st" in ''|running|Running|RUNNING|container_running) ;; *) exit 0 ;; esac
  if [ -n "$name" ] && ! echo etcd | grep -Eq -- "$name"; then exit 0; fi
  if [ -n "$quiet" ]; then echo "$running"; else echo "$(echo "$running" | cut -c1-13)       k8s.gcr.io/etcd     1 minute ago        Running             etcd                0                   0123456789abc"; fi
  ;;
exec)
  while [ $# -gt 0 ]; do
    case "$1" in
      -i|--interactive|-t|--tty|-s|--sync|--sync=*|-i=*|-t=*) ;;
      --timeout) shift ;;
      --timeout=*) ;;
      -*) echo "crictl: flag provided but not defined: $1 (stand-in)" >&2; exit 1 ;;
      *) break ;;
    esac
    shift
  done
  id=$1; [ $# -gt 0 ] && shift
  if [ -z "$id" ] || [ $# -eq 0 ]; then echo 'crictl: ID and COMMAND cannot be empty' >&2; exit 1; fi
  if [ -z "$running" ] || [ "\${running#"$id"}" = "$running" ]; then
    echo "FATA[0000] execing command in container: rpc error: code = NotFound desc = could not find container \\"$id\\"" >&2; exit 1
  fi
  [ "$1" = etcdctl ] || { echo "FATA[0000] execing command in container: exec: \\"$1\\": executable file not found in \\$PATH" >&2; exit 1; }
  shift
  # Inside the container only the hostPath mounts are the host's files.
  for a in "$@"; do
    p=\${a#--*=}
    case "$p" in /*) ;; *) continue ;; esac
    ok=
    for m in ${mounts.map(q).join(' ')}; do case "$p" in "$m"|"$m"/*) ok=1 ;; esac; done
    [ -n "$ok" ] || { echo "Error: open $p: no such file or directory (not mounted into the etcd container)" >&2; exit 1; }
  done
  exec env -i PATH=/usr/local/bin:/usr/bin:/bin ${q(etcdctl)} "$@"
  ;;
*) echo "crictl stand-in: unsupported command: $cmd" >&2; exit 1 ;;
esac
`;
}
