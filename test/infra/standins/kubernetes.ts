/**
 * STAND-IN for the Kubernetes API as seen through `kubectl` and `kubeadm`: no API server
 * runs here (test/infra/README.md). etcd is real (servers/etcd.ts); these generated scripts go
 * first on a test's PATH and answer the calls a Kubernetes recipe makes from fixture
 * files (test/infra/fixtures/kubernetes/): `kubectl get ns`, `get <kind> -A -o yaml`,
 * `get pv -o json`, `get cm kubeadm-config -n kube-system -o yaml`, `kubeadm version`.
 * Arguments are normalised the way kubectl reads them (aliases like cm/configmap, flag
 * spellings like --all-namespaces/-A, -o=yaml/-oyaml), so a recipe is not tied to one
 * spelling. Every call is logged; `apply -f` / `create -f` input is kept so a restore test can
 * check what was applied. Unknown calls fail like kubectl. Like kubectl, every call reads its
 * kubeconfig (--kubeconfig, else $KUBECONFIG, else ~/.kube/config) and fails when it is missing
 * or names another API server than this cluster's (`kubeconfig` is one that names it).
 * A kubeconfig whose user is `system:node:<name>` (a node's kubelet.conf, `nodeKubeconfig`)
 * gets only the calls `nodes[<name>]` lists — the node authorizer lets a kubelet read its own
 * pods and the claims and volumes they use, never list every volume; the rest is Forbidden.
 * Imitates kubectl 1.22; not imitated: contexts, credentials, and the node authorizer's graph
 * (the test lists each node's permitted calls).
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const KUBE_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'kubernetes');

/** What a stubbed call answers: literal stdout or a fixture file, optional stderr and exit code. */
export type StubAnswer = string | { stdout?: string; file?: string; stderr?: string; exitCode?: number };

export interface KubeStubOptions {
  /** kubectl calls (any spelling kubectl accepts) -> answer. Merged over the defaults. */
  kubectl?: Record<string, StubAnswer>;
  kubeadm?: Record<string, StubAnswer>;
  /** Kinds for which `get <kind> -A -o yaml|json` answers an empty List when no fixture exists. */
  emptyKinds?: string[];
  /** The API server this cluster's kubeconfig names; default https://127.0.0.1:6443. */
  server?: string;
  /** Node name -> the calls (any kubectl spelling) its kubelet credentials may make. */
  nodes?: Record<string, string[]>;
}

export interface KubeStubs {
  /** Put this first on PATH. Holds `kubectl` and `kubeadm`. */
  binDir: string;
  /** A kubeconfig (admin.conf) for this cluster. */
  kubeconfig: string;
  /** Its text, to write where a recipe expects it (e.g. a test's /etc/kubernetes/admin.conf). */
  kubeconfigText: string;
  /** A node's kubelet.conf for this cluster (user system:node:<name>). */
  nodeKubeconfig(name: string): string;
  /** Each call as an argv array, in order. */
  calls(): Promise<Array<{ command: string; args: string[] }>>;
  /** Documents passed to `kubectl apply|create -f`, in order. */
  applied(): Promise<string[]>;
}

const KIND_ALIASES: Record<string, string> = {
  ns: 'namespaces',
  namespace: 'namespaces',
  cm: 'configmaps',
  configmap: 'configmaps',
  pv: 'persistentvolumes',
  persistentvolume: 'persistentvolumes',
  pvc: 'persistentvolumeclaims',
  persistentvolumeclaim: 'persistentvolumeclaims',
  deploy: 'deployments',
  deployment: 'deployments',
  'deployments.apps': 'deployments',
  svc: 'services',
  service: 'services',
  secret: 'secrets',
  pod: 'pods',
  po: 'pods',
  sts: 'statefulsets',
  statefulset: 'statefulsets',
  ds: 'daemonsets',
  daemonset: 'daemonsets',
  sa: 'serviceaccounts',
  serviceaccount: 'serviceaccounts',
  ing: 'ingresses',
  ingress: 'ingresses',
};

/**
 * kubectl argv -> one canonical string: positionals (kinds de-aliased), then -A, -n NS,
 * -o FORMAT, then other flags in order. Embedded verbatim into the generated stub, so it
 * must stay plain JavaScript-compatible and self-contained (aliases are passed in).
 */
export function normalizeKubectlArgs(argv: string[], aliases: Record<string, string>): string {
  const positional: string[] = [];
  const rest: string[] = [];
  let all = false;
  let ns: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (flag: string) => (a.startsWith(flag + '=') ? a.slice(flag.length + 1) : argv[++i]);
    if (a === '--kubeconfig' || a === '--request-timeout' || a === '--context') i++;
    else if (a.startsWith('--kubeconfig=') || a.startsWith('--request-timeout=') || a.startsWith('--context=')) continue;
    else if (a === '-A' || a === '--all-namespaces' || a === '--all-namespaces=true') all = true;
    else if (a === '-n' || a === '--namespace' || a.startsWith('--namespace=')) ns = value('--namespace');
    else if (a.startsWith('-n') && a.length > 2 && !a.startsWith('--')) ns = a.slice(2);
    else if (a === '-o' || a === '--output' || a.startsWith('--output=')) out = value('--output');
    else if (a.startsWith('-o=')) out = a.slice(3);
    else if (a.startsWith('-o') && a.length > 2 && !a.startsWith('--')) out = a.slice(2);
    else if (a.startsWith('-')) rest.push(a);
    else
      positional.push(
        positional.length === 1 && positional[0] === 'get'
          ? a
              .split(',')
              .map((k) => aliases[k] ?? k)
              .join(',')
          : a,
      );
  }
  return [...positional, ...(all ? ['-A'] : []), ...(ns ? ['-n', ns] : []), ...(out ? ['-o', out] : []), ...rest].join(' ');
}

/** A call written as one string -> argv: split at spaces, except inside a jsonpath's `{…}`. */
function callWords(call: string): string[] {
  return call.match(/(?:\{[^}]*\}|[^\s{])+/g) ?? [];
}

type SyncFs = {
  readFileSync(path: string | number, enc: 'utf8'): string;
  writeFileSync(path: string, data: string): void;
  readdirSync(path: string): string[];
  existsSync(path: string): boolean;
};

/**
 * `kubectl apply|create -f <file|->` against the stand-in cluster, as the API server answers it:
 * objects in a namespace that does not exist yet are NotFound (a server-side dry run creates
 * nothing, so a namespace and its objects cannot be dry-run in one go), an object to be created
 * must not carry a resourceVersion. Input: a JSON object or List, or YAML documents (read by
 * pattern). Real applies are kept in `appliedDir`; the namespaces in `namespacesFile`.
 * Embedded verbatim into the generated stub (fs passed in), so self-contained.
 */
export function applyObjects(fs: SyncFs, verb: string, argv: string[], appliedDir: string, namespacesFile: string) {
  let dry = 'none';
  for (const a of argv) {
    if (a === '--dry-run') dry = 'client';
    else if (a.startsWith('--dry-run=')) dry = a.slice(10);
  }
  if (!['none', 'client', 'server'].includes(dry)) {
    return { stdout: '', stderr: `error: Invalid dry-run value (${dry}). Must be "none", "server", or "client".\n`, exitCode: 1 };
  }
  const at = argv.findIndex((a) => a === '-f' || a === '--filename');
  const src = argv[at + 1] ?? '-';
  const text = fs.readFileSync(src === '-' ? 0 : src, 'utf8');
  type Obj = { kind?: string; metadata?: { name?: string; namespace?: string; resourceVersion?: string } };
  let objects: Obj[];
  if (text.trimStart().startsWith('{')) {
    const doc = JSON.parse(text) as Obj & { items?: Obj[] };
    objects = doc.kind === 'List' ? (doc.items ?? []) : [doc];
  } else {
    objects = [...text.matchAll(/^kind: *(\S+)[\s\S]*?^  name: *(\S+)/gm)].map((m) => ({ kind: m[1], metadata: { name: m[2] } }));
  }
  const namespaces = new Set(
    fs.existsSync(namespacesFile)
      ? fs.readFileSync(namespacesFile, 'utf8').split('\n').filter(Boolean)
      : ['default', 'kube-system', 'kube-public', 'kube-node-lease'],
  );
  const out: string[] = [];
  const errors: string[] = [];
  for (const o of objects) {
    const m = o.metadata ?? {};
    if (m.resourceVersion) {
      errors.push(`Error from server (Conflict): error when creating "${src}": resourceVersion should not be set on objects to be created`);
    } else if (dry !== 'client' && m.namespace && !namespaces.has(m.namespace)) {
      errors.push(`Error from server (NotFound): error when creating "${src}": namespaces "${m.namespace}" not found`);
    } else {
      if (o.kind === 'Namespace' && dry === 'none') namespaces.add(m.name ?? '');
      out.push(`${String(o.kind).toLowerCase()}/${m.name} ${verb === 'apply' ? 'configured' : 'created'}${dry === 'none' ? '' : ` (${dry} dry run)`}`);
    }
  }
  if (dry === 'none') {
    const n = String(fs.readdirSync(appliedDir).length).padStart(4, '0');
    fs.writeFileSync(`${appliedDir}/${n}.yaml`, text);
    fs.writeFileSync(namespacesFile, [...namespaces].join('\n') + '\n');
  }
  return { stdout: out.map((l) => l + '\n').join(''), stderr: errors.map((l) => l + '\n').join(''), exitCode: errors.length ? 1 : 0 };
}

const fixture = (name: string): StubAnswer => ({ file: join(KUBE_FIXTURES, name) });

/** The calls a LambdaStack Kubernetes recipe makes, answered from the committed fixtures. */
export const DEFAULT_KUBECTL: Record<string, StubAnswer> = {
  'get ns': fixture('get-ns.txt'),
  'get ns -o yaml': fixture('get-ns.yaml'),
  'get deployments -A -o yaml': fixture('get-deployments-A.yaml'),
  'get cm -A -o yaml': fixture('get-configmaps-A.yaml'),
  'get pvc -A -o yaml': fixture('get-pvc-A.yaml'),
  'get pv -o json': fixture('get-pv.json'),
  'get cm kubeadm-config -n kube-system -o yaml': fixture('get-cm-kubeadm-config.yaml'),
  'version --client --short': 'Client Version: v1.22.4\n',
};
export const DEFAULT_KUBEADM: Record<string, StubAnswer> = {
  'version -o short': 'v1.22.4\n',
};
const DEFAULT_EMPTY_KINDS = ['services', 'secrets', 'statefulsets', 'daemonsets', 'ingresses', 'serviceaccounts', 'pods', 'cronjobs', 'jobs'];

/** Writes `kubectl` and `kubeadm` stubs (Node scripts) into `<dir>/bin`, with their answers and logs in `dir`. */
export async function writeKubeStubs(dir: string, opts: KubeStubOptions = {}): Promise<KubeStubs> {
  const binDir = join(dir, 'bin');
  const appliedDir = join(dir, 'applied');
  const callsLog = join(dir, 'calls.jsonl');
  await mkdir(binDir, { recursive: true });
  await mkdir(appliedDir, { recursive: true });
  await writeFile(callsLog, '');
  const emptyList = (format: string) =>
    format === 'json'
      ? '{\n  "apiVersion": "v1",\n  "items": [],\n  "kind": "List",\n  "metadata": {\n    "resourceVersion": ""\n  }\n}\n'
      : 'apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: ""\n';
  const table = async (answers: Record<string, StubAnswer>, normalize: boolean) => {
    const out: Record<string, { stdout: string; stderr: string; exitCode: number }> = {};
    for (const [call, answer] of Object.entries(answers)) {
      const a = typeof answer === 'string' ? { stdout: answer } : answer;
      const key = normalize ? normalizeKubectlArgs(callWords(call), KIND_ALIASES) : call;
      out[key] = { stdout: a.file ? await readFile(a.file, 'utf8') : (a.stdout ?? ''), stderr: a.stderr ?? '', exitCode: a.exitCode ?? 0 };
    }
    return out;
  };
  const server = opts.server ?? 'https://127.0.0.1:6443';
  const kubeconfig = join(dir, 'admin.conf');
  const configFor = (user: string) =>
    `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: ${server}\n  name: kubernetes\n` +
    `contexts:\n- context: {cluster: kubernetes, user: ${user}}\n  name: ${user}@kubernetes\n` +
    `current-context: ${user}@kubernetes\nusers:\n- name: ${user}\n`;
  const kubeconfigText = configFor('kubernetes-admin');
  await writeFile(kubeconfig, kubeconfigText, { mode: 0o600 });
  const kubectlTable = await table({ ...DEFAULT_KUBECTL, ...opts.kubectl }, true);
  // kubectl prints the same objects as JSON (4-space indent) for -o json.
  for (const [key, answer] of Object.entries(kubectlTable)) {
    if (!key.endsWith(' -o yaml') || answer.exitCode !== 0) continue;
    kubectlTable[key.slice(0, -4) + 'json'] ??= { ...answer, stdout: JSON.stringify(parseYaml(answer.stdout), null, 4) + '\n' };
  }
  for (const kind of opts.emptyKinds ?? DEFAULT_EMPTY_KINDS) {
    for (const format of ['yaml', 'json']) {
      kubectlTable[`get ${kind} -A -o ${format}`] ??= { stdout: emptyList(format), stderr: '', exitCode: 0 };
    }
  }
  const nodes = Object.fromEntries(
    Object.entries(opts.nodes ?? {}).map(([n, calls]) => [n, calls.map((c) => normalizeKubectlArgs(callWords(c), KIND_ALIASES))]),
  );
  await writeStub(join(binDir, 'kubectl'), 'kubectl', kubectlTable, true, callsLog, appliedDir, { server, nodes });
  await writeStub(join(binDir, 'kubeadm'), 'kubeadm', await table({ ...DEFAULT_KUBEADM, ...opts.kubeadm }, false), false, callsLog, appliedDir);

  return {
    binDir,
    kubeconfig,
    kubeconfigText,
    nodeKubeconfig: (name) => configFor(`system:node:${name}`),
    calls: async () =>
      (await readFile(callsLog, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    applied: async () => {
      const files = (await readdir(appliedDir)).sort();
      return Promise.all(files.map((f) => readFile(join(appliedDir, f), 'utf8')));
    },
  };
}

async function writeStub(
  path: string,
  command: string,
  answers: Record<string, unknown>,
  normalize: boolean,
  callsLog: string,
  appliedDir: string,
  api?: { server: string; nodes: Record<string, string[]> },
): Promise<void> {
  // A plain Node script with this process's node as interpreter, so PATH need not hold node.
  const script = `#!${process.execPath}
// ${command}: STAND-IN generated by test/infra/standins/kubernetes.ts
import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
const ANSWERS = ${JSON.stringify(answers)};
const ALIASES = ${JSON.stringify(KIND_ALIASES)};
const normalizeKubectlArgs = ${normalizeKubectlArgs.toString()};
const argv = process.argv.slice(2);
appendFileSync(${JSON.stringify(callsLog)}, JSON.stringify({ command: ${JSON.stringify(command)}, args: argv }) + '\\n');
const SERVER = ${JSON.stringify(api?.server ?? null)};
const NODES = ${JSON.stringify(api?.nodes ?? {})};
let user;
if (SERVER) {
  // kubectl reads its kubeconfig before anything else.
  const at = argv.findIndex((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig='));
  const given = at < 0 ? undefined : argv[at].startsWith('--kubeconfig=') ? argv[at].slice(13) : argv[at + 1];
  const file = given ?? (process.env.KUBECONFIG || (process.env.HOME ?? '') + '/.kube/config');
  let text;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    process.stderr.write(given !== undefined || process.env.KUBECONFIG
      ? 'error: stat ' + file + ': no such file or directory\\n'
      : 'The connection to the server localhost:8080 was refused - did you specify the right host or port?\\n');
    process.exit(1);
  }
  const named = (text.match(/^ *server: *(\\S+)/m) ?? [])[1];
  if (named !== SERVER) {
    process.stderr.write('Unable to connect to the server: dial tcp ' + String(named).replace(/^https?:\\/\\//, '') + ': connect: connection refused\\n');
    process.exit(1);
  }
  user = (text.match(/^users:\\s*\\n- name: *(\\S+)/m) ?? [])[1];
}
const key = ${normalize} ? normalizeKubectlArgs(argv, ALIASES) : argv.join(' ');
if (user && user.startsWith('system:node:') && !(NODES[user.slice(12)] ?? []).includes(key)) {
  const words = key.split(' ');
  process.stderr.write('Error from server (Forbidden): ' + (words[1] ?? 'resource') + ' is forbidden: User "' + user + '" cannot '
    + (words[0] ?? 'get') + ' resource "' + (words[1] ?? '') + '" in API group "" at the cluster scope: no relationship found between node and this object (stub: ' + key + ')\\n');
  process.exit(1);
}
const verb = key.split(' ')[0];
if (${normalize} && (verb === 'apply' || verb === 'create') && argv.some((a) => a === '-f' || a === '--filename')) {
  const applyObjects = ${applyObjects.toString()};
  const r = applyObjects({ readFileSync, writeFileSync, readdirSync, existsSync }, verb, argv, ${JSON.stringify(appliedDir)}, ${JSON.stringify(join(dirname(appliedDir), 'namespaces.txt'))});
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exit(r.exitCode);
}
const answer = ANSWERS[key];
if (!answer) {
  const kind = ${normalize} && verb === 'get' ? argv.filter((a) => !a.startsWith('-'))[1] : undefined;
  process.stderr.write(kind
    ? 'error: the server doesn\\'t have a resource type "' + kind + '" (stub has no answer for: ${command} ' + key + ')\\n'
    : 'Error: unknown call (stub has no answer for: ${command} ' + key + ')\\n');
  process.exit(1);
}
process.stdout.write(answer.stdout);
process.stderr.write(answer.stderr);
process.exit(answer.exitCode);
`;
  await writeFile(path, script, { mode: 0o755 });
}
