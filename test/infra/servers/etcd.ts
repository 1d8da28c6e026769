/**
 * A real single-member etcd 3.4 (Debian etcd-server) on 127.0.0.1, plus an `etcdctl`
 * helper speaking the v3 API (ETCDCTL_API=3) — the Kubernetes recipe's etcd. With `pki`
 * it serves clients over TLS and requires a client certificate, as kubeadm's etcd does.
 */
import { join } from 'node:path';
import { LOOPBACK, launchServer, type BaseServerOptions, type RunningServer, freePorts, prepareBaseDir, makeDirs, runChecked, httpOk } from './common.js';
import type { EtcdPki } from './etcd-pki.js';

export interface EtcdServer extends RunningServer {
  clientPort: number;
  peerPort: number;
  /** http(s)://127.0.0.1:<clientPort> — pass as --endpoints. */
  endpoint: string;
  /** Environment for etcdctl: ETCDCTL_API=3, ETCDCTL_ENDPOINTS (and the client certificate with TLS). */
  env: Record<string, string>;
  /** Runs etcdctl (v3) against this server; returns stdout. */
  etcdctl(args: string[]): Promise<string>;
}

export interface EtcdOptions extends BaseServerOptions {
  name?: string;
  /** Data directory; default <baseDir>/data. */
  dataDir?: string;
  /** Fixed ports (a server started again on the same endpoint); default two free ones. */
  ports?: { client: number; peer: number };
  /** Serve clients over TLS with this PKI and require client certificates signed by its CA. */
  pki?: EtcdPki;
}

export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('etcd', opts);
  const dataDir = opts.dataDir ?? join(baseDir, 'data');
  const configDir = join(baseDir, 'conf');
  const logFile = join(baseDir, 'etcd.log');
  await makeDirs([configDir]);
  const [clientPort, peerPort] = opts.ports ? [opts.ports.client, opts.ports.peer] : ((await freePorts(2)) as [number, number]);
  const name = opts.name ?? 'n1';
  const pki = opts.pki;
  const client = `${pki ? 'https' : 'http'}://${LOOPBACK}:${clientPort}`;
  const peer = `http://${LOOPBACK}:${peerPort}`;
  const tlsArgs = pki ? ['--cert-file', pki.serverCert, '--key-file', pki.serverKey, '--client-cert-auth', '--trusted-ca-file', pki.caCert] : [];
  const env: Record<string, string> = {
    ETCDCTL_API: '3',
    ETCDCTL_ENDPOINTS: client,
    ...(pki ? { ETCDCTL_CACERT: pki.caCert, ETCDCTL_CERT: pki.clientCert, ETCDCTL_KEY: pki.clientKey } : {}),
  };
  const etcdctl = async (args: string[]) => (await runChecked('etcdctl', args, { env: { ...process.env, ...env } })).stdout;
  const { pid, stop } = await launchServer({
    what: 'etcd',
    command: 'etcd',
    baseDir,
    ownedHere,
    logFile,
    args: [
      '--name',
      name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${name}=${peer}`,
      ...tlsArgs,
    ],
    ready: pki ? () => etcdctl(['endpoint', 'health']).then(() => true) : () => httpOk(`${client}/health`),
    timeoutMs: opts.startTimeoutMs ?? 120_000,
  });
  return { pid, baseDir, dataDir, configDir, logFile, clientPort, peerPort, endpoint: client, env, etcdctl, stop };
}
