/**
 * A real single-member etcd 3.4 (Debian etcd-server) on 127.0.0.1, plus an `etcdctl`
 * helper speaking the v3 API (ETCDCTL_API=3) — the Kubernetes recipe's etcd.
 */
import { join } from 'node:path';
import {
  LOOPBACK, launchServer, type BaseServerOptions, type RunningServer, freePorts, prepareBaseDir, makeDirs, runChecked, httpOk,
} from './common.js';

export interface EtcdServer extends RunningServer {
  clientPort: number;
  peerPort: number;
  /** http://127.0.0.1:<clientPort> — pass as --endpoints. */
  endpoint: string;
  /** Environment for etcdctl: ETCDCTL_API=3, ETCDCTL_ENDPOINTS. */
  env: Record<string, string>;
  /** Runs etcdctl (v3) against this server; returns stdout. */
  etcdctl(args: string[]): Promise<string>;
}

export async function startEtcd(opts: BaseServerOptions & { name?: string } = {}): Promise<EtcdServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('etcd', opts);
  const dataDir = join(baseDir, 'data');
  const configDir = join(baseDir, 'conf');
  const logFile = join(baseDir, 'etcd.log');
  await makeDirs([configDir]);
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  const name = opts.name ?? 'n1';
  const client = `http://${LOOPBACK}:${clientPort}`;
  const peer = `http://${LOOPBACK}:${peerPort}`;
  const { pid, stop } = await launchServer({
    what: 'etcd', command: 'etcd', baseDir, ownedHere, logFile,
    args: [
      '--name', name, '--data-dir', dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${name}=${peer}`,
    ],
    ready: () => httpOk(`${client}/health`),
    timeoutMs: opts.startTimeoutMs ?? 20_000,
  });
  const env = { ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: client };
  const etcdctl = async (args: string[]) => (await runChecked('etcdctl', args, { env: { ...process.env, ...env } })).stdout;
  return { pid, baseDir, dataDir, configDir, logFile, clientPort, peerPort, endpoint: client, env, etcdctl, stop };
}
