/**
 * The control plane as kubeadm runs it on a LambdaStack master: static pods (manifests in
 * /etc/kubernetes/manifests: etcd.yaml, kube-apiserver.yaml, kube-controller-manager.yaml,
 * kube-scheduler.yaml), etcd on TLS https://127.0.0.1:2379 with client certificates, and no
 * etcdctl on the host — only inside the etcd container.
 *
 * etcd itself is REAL (servers/etcd.ts, Debian etcd-server). STAND-INS, because no kubelet,
 * container runtime or API server can run here:
 * - "kubelet": this process watches the manifests; while one is in the manifests dir its pod
 *   runs, when it is moved out the pod is stopped (as kubelet stops a removed static pod), when
 *   it is back the pod starts again (etcd on the same data dir and ports).
 * - the API server, controller manager and scheduler: containers that only run (a new id per
 *   start). The API server holds the one thing about a real one a restore must respect: it keeps
 *   a cache of etcd at the revision it last saw, so etcd's revision must never go back while it
 *   runs (a real API server's watch cache and its clients' resource versions would then be ahead
 *   of the data; Kubernetes' etcd restore procedure stops every API server first). It reads
 *   etcd's revision about once a second, and `apiServerFaults()` lists every time it went back.
 * - `crictl` (in `binDir`, a generated shell script): `ps --quiet --name <re> --state running`
 *   lists the running containers whose name matches (a new id per start); `exec <id> etcdctl …`
 *   in the etcd container runs the etcdctl of the "image" (a copy kept off PATH) with an empty
 *   environment, as in the container. The container sees only kubeadm's two hostPath mounts
 *   (the etcd data dir and pki/etcd): an absolute path argument outside them fails as it would
 *   inside the container. Not imitated: pulling images, pod sandboxes, logs, the other
 *   components' work, any other crictl command (refused).
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
  /** Resolves once the API server, controller manager and scheduler run. */
  controlPlaneRunning(): Promise<void>;
  /** How many times each control-plane pod (etcd included) has started. */
  starts(): Record<string, number>;
  /** Each time etcd's revision went back while the API server ran (read afresh first). */
  apiServerFaults(): Promise<string[]>;
  /** Stops the watcher and the etcd. */
  stop(): Promise<void>;
}

const WAIT_MS = 60_000;
const MEMBER = 'master1';
const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
const REVISION_CHECK_MS = 1000;

export async function startEtcdStaticPod(o: EtcdStaticPodOptions): Promise<EtcdStaticPod> {
  const binDir = join(o.dir, 'bin');
  const imageDir = join(o.dir, 'image');
  const containersDir = join(o.dir, 'containers'); // <name>: the id of its running container
  const stateFile = join(containersDir, 'etcd');
  for (const d of [binDir, imageDir, containersDir, o.manifestsDir, o.dataDir]) await mkdir(d, { recursive: true });
  const pki = await writeEtcdPki(o.pkiDir);
  const [free, peer] = (await freePorts(2)) as [number, number];
  const client = o.clientPort ?? free;
  const seen = o.seenAt ?? { dataDir: o.dataDir, pkiDir: o.pkiDir };
  const manifest = join(o.manifestsDir, 'etcd.yaml');
  await writeFile(manifest, kubeadmManifest(seen.dataDir, seen.pkiDir, client, peer));
  const controlPlaneManifests = CONTROL_PLANE.map((name) => join(o.manifestsDir, `${name}.yaml`));
  for (const [i, name] of CONTROL_PLANE.entries()) await writeFile(controlPlaneManifests[i]!, controlPlaneManifest(name, client));
  // The image's etcdctl: a copy outside every PATH, so only `crictl exec` reaches it.
  await copyFile((await runChecked('sh', ['-c', 'command -v etcdctl'])).stdout.trim(), join(imageDir, 'etcdctl'));
  await writeFile(join(binDir, 'crictl'), crictlScript(containersDir, join(imageDir, 'etcdctl'), [seen.dataDir, seen.pkiDir]), { mode: 0o755 });

  let etcd: EtcdServer | undefined;
  let busy: Promise<void> = Promise.resolve();
  let stopping = false;
  let lastError: Error | undefined;
  const starts: Record<string, number> = { etcd: 0 };
  const runningPods = new Set<string>();
  // The API server's view of etcd: the highest revision it has seen since it started.
  let apiServerRevision: number | undefined;
  let revisionCheckedAt = 0;
  const faults: string[] = [];
  const newContainer = (name: string) => {
    starts[name] = (starts[name] ?? 0) + 1;
    return writeFile(join(containersDir, name), randomBytes(32).toString('hex') + '\n');
  };
  const checkRevision = async (now: boolean) => {
    if (!etcd || !runningPods.has('kube-apiserver') || (!now && Date.now() - revisionCheckedAt < REVISION_CHECK_MS)) return;
    revisionCheckedAt = Date.now();
    const status = await etcd.etcdctl(['endpoint', 'status', '-w', 'json']).catch(() => undefined);
    if (!status) return; // etcd busy or starting: looked at again on the next tick
    const revision = (JSON.parse(status) as Array<{ Status: { header: { revision: number } } }>)[0]!.Status.header.revision;
    if (apiServerRevision !== undefined && revision < apiServerRevision) {
      faults.push(`kube-apiserver was running while etcd's revision went back from ${apiServerRevision} to ${revision}`);
    }
    apiServerRevision = revision;
  };
  const reconcile = async () => {
    const wanted = !stopping && (await pathExists(manifest));
    if (wanted && !etcd) {
      etcd = await startEtcd({ baseDir: join(o.dir, 'pod'), dataDir: o.dataDir, ports: { client, peer }, pki, name: MEMBER });
      await newContainer('etcd');
    } else if (!wanted && etcd) {
      await rm(stateFile, { force: true });
      await etcd.stop();
      etcd = undefined;
    }
    for (const [i, name] of CONTROL_PLANE.entries()) {
      const up = !stopping && (await pathExists(controlPlaneManifests[i]!));
      if (up && !runningPods.has(name)) {
        runningPods.add(name);
        if (name === 'kube-apiserver') apiServerRevision = undefined; // a fresh start reads etcd afresh
        await newContainer(name);
      } else if (!up && runningPods.has(name)) {
        runningPods.delete(name);
        await rm(join(containersDir, name), { force: true });
      }
    }
    await checkRevision(false);
  };
  // The kubelet's file check (it polls its static pod path too).
  const timer = setInterval(() => {
    busy = busy.then(reconcile).catch((e: Error) => void (lastError = e));
  }, 200);
  const until = (what: string, reached: () => boolean | Promise<boolean>) =>
    waitUntil(
      what,
      async () => {
        if (lastError) throw lastError;
        return reached();
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
    running: () => until('etcd static pod running', async () => etcd !== undefined && (await pathExists(stateFile))),
    stopped: () => until('etcd static pod stopped', () => etcd === undefined),
    controlPlaneRunning: () => until('control plane running', () => CONTROL_PLANE.every((name) => runningPods.has(name))),
    starts: () => ({ ...starts }),
    apiServerFaults: async () => {
      busy = busy.then(() => checkRevision(true));
      await busy;
      return [...faults];
    },
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

/** The parts of kubeadm's manifest of another control-plane pod that matter here: its name, and etcd for the API server. */
function controlPlaneManifest(name: string, etcdPort: number): string {
  const flags = name === 'kube-apiserver' ? `\n    - --etcd-servers=https://127.0.0.1:${etcdPort}` : '';
  return `apiVersion: v1
kind: Pod
metadata:
  labels: {component: ${name}, tier: control-plane}
  name: ${name}
  namespace: kube-system
spec:
  containers:
  - command:
    - ${name}${flags}
    image: k8s.gcr.io/${name}:v1.22.4
    name: ${name}
  hostNetwork: true
`;
}

function crictlScript(containersDir: string, etcdctl: string, mounts: string[]): string {
  return `#!/bin/sh
# crictl: STAND-IN for the container runtime (no container runtime can run here), generated
# by test/infra/standins/etcd-static-pod.ts. Knows the control plane's static pods: a file per
# running container in the containers dir, named as the container, holding its id.
containers=${q(containersDir)}
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
  case "$st" in ''|running|Running|RUNNING|container_running) ;; *) exit 0 ;; esac
  for f in "$containers"/*; do
    id=$(cat "$f" 2>/dev/null) || continue
    [ -n "$id" ] || continue
    c=\${f##*/}
    if [ -n "$name" ] && ! echo "$c" | grep -Eq -- "$name"; then continue; fi
    if [ -n "$quiet" ]; then echo "$id"; else echo "$(echo "$id" | cut -c1-13)       k8s.gcr.io/$c     1 minute ago        Running             $c                0                   0123456789abc"; fi
  done
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
  found=
  for f in "$containers"/*; do
    running=$(cat "$f" 2>/dev/null) || continue
    if [ -n "$running" ] && [ "\${running#"$id"}" != "$running" ]; then found=\${f##*/}; break; fi
  done
  if [ -z "$found" ]; then
    echo "FATA[0000] execing command in container: rpc error: code = NotFound desc = could not find container \\"$id\\"" >&2; exit 1
  fi
  [ "$found" = etcd ] && [ "$1" = etcdctl ] || { echo "FATA[0000] execing command in container: exec: \\"$1\\": executable file not found in \\$PATH" >&2; exit 1; }
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
