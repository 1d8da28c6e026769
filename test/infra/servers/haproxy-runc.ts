/**
 * HAProxy as LambdaStack runs it (ansible/playbooks/roles/haproxy_runc): a real `runc`
 * container (Debian runc) whose bundle holds a rootfs and the config.json `runc spec` writes,
 * adjusted as the role adjusts it: process `haproxy -W -f /etc/haproxy/haproxy.cfg`, no
 * terminal, no network namespace (host networking), and the host's config and SSL dirs
 * bind-mounted read-only at /etc/haproxy and /etc/ssl/haproxy. LambdaStack's rootfs is the
 * haproxy alpine image; with no registry reachable here the rootfs is the host's own haproxy
 * binary (at the image's /usr/local/sbin/haproxy) and the libraries `ldd` names.
 *
 * Everything lives in one temp dir (bundle, runc state root, host-side config dirs, log), so
 * several containers never share a name or state; the container id is unique per start.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { connect } from 'node:tls';
import {
  LOOPBACK,
  type BaseServerOptions,
  type RunningServer,
  freePorts,
  prepareBaseDir,
  makeDirs,
  runChecked,
  readPidFile,
  killAtExit,
  killAndWait,
  waitUntil,
  tcpAnswers,
  logTail,
} from './common.js';
import { requireCommand } from '../../helpers/prerequisites.js';

export interface RuncHaproxy extends RunningServer {
  /** The container's HTTP frontend on 127.0.0.1 (host networking). */
  port: number;
  /** Its TLS frontend, serving the certificate `<sslDir>/site.pem` (as LambdaStack's https frontend does). */
  tlsPort: number;
  /** The bundle (LambdaStack: /opt/runc/haproxy): config.json and rootfs. */
  bundleDir: string;
  /** runc's state root (`runc --root`), private to this container. */
  stateDir: string;
  /** The container id (LambdaStack: haproxy). */
  id: string;
  /** The runc command for this container, as words: `runc --root <stateDir>`. */
  runc: string[];
  /** Host side of the /etc/haproxy bind mount, and its haproxy.cfg. */
  configFile: string;
  /** Host side of the /etc/ssl/haproxy bind mount. */
  sslDir: string;
  /** A config that answers every request with `marker` (so a test sees which config serves). */
  configText(marker: string): string;
  /** Writes a new self-signed `<sslDir>/site.pem` (certificate and key) for `commonName`; returns its text. */
  writeCertificate(commonName: string): Promise<string>;
  /** The common name of the certificate the TLS frontend presents now. */
  servedCertificate(): Promise<string>;
  /** What the container sees at `path` (through /proc/<pid>/root: its own mount namespace). */
  containerPath(path: string): string;
  /** `runc kill <id> SIGUSR2`, the reload LambdaStack's unit does (ExecReload); waits until it loaded. */
  reload(): Promise<void>;
  /** How many reloads the master logged ("Reloading HAProxy"). */
  reloadsLogged(): Promise<number>;
}

/** Where config.json mounts the host dirs, as LambdaStack's haproxy role does. */
const CONTAINER_CONFIG_DIR = '/etc/haproxy';
const CONTAINER_SSL_DIR = '/etc/ssl/haproxy';
/** The binary's path in LambdaStack's image (its config.json runs it by this path). */
const CONTAINER_HAPROXY = '/usr/local/sbin/haproxy';

export async function startRuncHaproxy(
  opts: BaseServerOptions & { /** Container id (LambdaStack's: haproxy); default: unique. */ id?: string } = {},
): Promise<RuncHaproxy> {
  requireCommand('runc', 'runc');
  const { baseDir, ownedHere } = await prepareBaseDir('haproxy-runc', opts);
  const bundleDir = join(baseDir, 'opt', 'runc', 'haproxy');
  const stateDir = join(baseDir, 'run', 'runc');
  const configDir = join(baseDir, 'etc', 'haproxy');
  const sslDir = join(baseDir, 'etc', 'ssl', 'haproxy');
  const logFile = join(baseDir, 'haproxy.log');
  await makeDirs([bundleDir, stateDir, configDir, sslDir]);
  const id = opts.id ?? `lsb-haproxy-${basename(baseDir).split('-').pop()}`;
  const runc = ['runc', '--root', stateDir];
  const [port, tlsPort] = (await freePorts(2)) as [number, number];
  const configFile = join(configDir, 'haproxy.cfg');
  const configText = (marker: string) =>
    [
      'global',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 5s',
      '  timeout server 5s',
      'frontend web',
      `  bind ${LOOPBACK}:${port}`,
      `  http-request return status 200 content-type text/plain string ${marker}`,
      'frontend tls',
      `  bind ${LOOPBACK}:${tlsPort} ssl crt ${CONTAINER_SSL_DIR}/site.pem`,
      `  http-request return status 200 content-type text/plain string ${marker}`,
      '',
    ].join('\n');
  const writeCertificate = async (commonName: string) => {
    const pem = await selfSignedPem(commonName);
    await writeFile(join(sslDir, 'site.pem'), pem, { mode: 0o600 });
    return pem;
  };
  await writeFile(configFile, configText('started'));
  await writeCertificate('started');
  await writeFile(join(sslDir, 'README'), 'placeholder for the certificates LambdaStack puts in /etc/ssl/haproxy\n');
  await buildRootfs(join(bundleDir, 'rootfs'));
  await writeConfigJson(bundleDir, [
    { destination: `${CONTAINER_SSL_DIR}/`, source: `${sslDir}/`, type: 'bind', options: ['rbind', 'ro'] },
    { destination: `${CONTAINER_CONFIG_DIR}/`, source: `${configDir}/`, type: 'bind', options: ['rbind', 'ro'] },
  ]);

  // As the unit's ExecStart: `runc run --detach --pid-file ...`. The container keeps runc's
  // stdout/stderr, so they go to the log file (a pipe would never close).
  const pidFile = join(baseDir, 'run', 'haproxy.pid');
  // runc needs root (namespaces, cgroups, mounts); its own words say what is missing.
  await runChecked('sh', ['-c', 'exec "$@" >>"$0" 2>&1', logFile, ...runc, 'run', '--detach', '--pid-file', pidFile, id], { cwd: bundleDir }).catch(
    async (e: Error) => {
      const why = `runc could not start the haproxy container: ${e.message}\n${await logTail(logFile)}`;
      await runChecked(runc[0]!, [...runc.slice(1), 'delete', '--force', id]).catch(() => undefined);
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
      throw new Error(why);
    },
  );
  const pid = await readPidFile(pidFile);
  killAtExit(pid);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // The container's init is the haproxy master: ending it ends the container.
      await killAndWait(pid);
      await runChecked(runc[0]!, [...runc.slice(1), 'delete', '--force', id]).catch(() => undefined);
      if (ownedHere) await rm(baseDir, { recursive: true, force: true });
    })());
  const logged = async (text: string) => (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes(text)).length;
  const reloadsLogged = () => logged('Reloading HAProxy');
  const loadsLogged = async () => (await logged('Loading success.')) + (await logged('Loading failure!'));
  // After loading, the master re-executes itself (wait mode) and only then catches SIGUSR2;
  // until it does, a SIGUSR2 to the container's PID 1 is dropped by the kernel. So a reload is
  // sent only to a master that catches it, and is done once it loaded and catches it again.
  const catchesReload = () => catchesSigusr2(pid);
  const waitFor = (what: string, check: () => Promise<boolean>) =>
    waitUntil(what, check, { timeoutMs: opts.startTimeoutMs ?? 120_000, logFile, alivePid: pid });
  try {
    await waitFor('haproxy in runc', () => tcpAnswers(port));
    await waitFor('haproxy master in runc ready for reloads', catchesReload);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    pid,
    baseDir,
    dataDir: bundleDir,
    configDir,
    logFile,
    stop,
    port,
    tlsPort,
    bundleDir,
    stateDir,
    id,
    runc,
    configFile,
    sslDir,
    configText,
    reloadsLogged,
    writeCertificate,
    servedCertificate: () => servedCommonName(tlsPort),
    containerPath: (path) => join(`/proc/${pid}/root`, path),
    reload: async () => {
      await waitFor('haproxy master ready for a reload', catchesReload);
      const loads = await loadsLogged();
      await runChecked(runc[0]!, [...runc.slice(1), 'kill', id, 'SIGUSR2']);
      await waitFor('haproxy master reloaded', async () => (await loadsLogged()) > loads && (await catchesReload()));
    },
  };
}

/** The host's haproxy at the image's path plus every shared library it loads. */
async function buildRootfs(rootfs: string): Promise<void> {
  const binary = execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim();
  const libs = execFileSync('ldd', [binary], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
  const files: [string, string][] = [[binary, CONTAINER_HAPROXY], ...libs.map((l): [string, string] => [l, l])];
  for (const [from, to] of files) {
    await mkdir(join(rootfs, dirname(to)), { recursive: true });
    await copyFile(from, join(rootfs, to));
  }
}

interface Mount {
  destination: string;
  source: string;
  type: string;
  options: string[];
}

/** `runc spec`, then the changes LambdaStack's setup-runc-container.yml makes. */
async function writeConfigJson(bundleDir: string, mounts: Mount[]): Promise<void> {
  await runChecked('runc', ['spec'], { cwd: bundleDir });
  const file = join(bundleDir, 'config.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as {
    process: { args: string[]; terminal: boolean };
    linux: { namespaces: { type: string }[] };
    mounts: Mount[];
  };
  spec.process.args = [CONTAINER_HAPROXY, '-W', '-f', `${CONTAINER_CONFIG_DIR}/haproxy.cfg`];
  spec.process.terminal = false;
  spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
  spec.mounts.push(...mounts);
  await writeFile(file, JSON.stringify(spec, null, 2));
}

/** A self-signed certificate and its key in one PEM, as haproxy's `crt` takes them. */
async function selfSignedPem(commonName: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lsb-cert-'));
  try {
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await runChecked('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${commonName}`,
      '-days',
      '2',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    return (await readFile(cert, 'utf8')) + (await readFile(key, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function servedCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // Only the presented certificate matters here, not whether it is trusted.
    const socket = connect({ host: LOOPBACK, port, rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(String(cn));
    });
    socket.setTimeout(5000, () => socket.destroy(new Error(`no TLS handshake on ${LOOPBACK}:${port} within 5 s`)));
    socket.on('error', reject);
  });
}

/** Whether `pid` has a handler for SIGUSR2 (signal 12: bit 11 of SigCgt in /proc/<pid>/status). */
async function catchesSigusr2(pid: number): Promise<boolean> {
  const mask = /SigCgt:\s*([0-9a-f]+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
  return mask !== undefined && ((BigInt(`0x${mask}`) >> 11n) & 1n) === 1n;
}
