/**
 * A real Alertmanager 0.25 (Debian prometheus-alertmanager), clustering off
 * (`--cluster.listen-address=`, else it binds 0.0.0.0:9094) unless `cluster` makes it a gossip
 * peer on 127.0.0.1, with helpers for silences through its v2 API — what an Alertmanager recipe
 * backs up and restores.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOOPBACK, launchServer, type BaseServerOptions, type RunningServer, freePort, prepareBaseDir, makeDirs, httpOk } from './common.js';

export interface Silence {
  id?: string;
  matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual?: boolean }>;
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status?: { state: 'active' | 'pending' | 'expired' };
}

export interface AlertmanagerServer extends RunningServer {
  port: number;
  url: string;
  configFile: string;
  /** POST /api/v2/silences; returns the new silence id. */
  createSilence(s: Omit<Silence, 'id' | 'status'>): Promise<string>;
  /** GET /api/v2/silences (expired ones included, as Alertmanager keeps them for a while). */
  listSilences(): Promise<Silence[]>;
  /** DELETE /api/v2/silence/{id}: the silence turns `expired`. */
  expireSilence(id: string): Promise<void>;
}

export interface AlertmanagerOptions extends BaseServerOptions {
  /** A gossip peer: listens on 127.0.0.1:listenPort and joins the peers' cluster ports. */
  cluster?: { listenPort: number; peerPorts: number[] };
}

export async function startAlertmanager(opts: AlertmanagerOptions = {}): Promise<AlertmanagerServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('am', opts);
  const dataDir = join(baseDir, 'data');
  const configDir = join(baseDir, 'etc');
  const logFile = join(baseDir, 'alertmanager.log');
  await makeDirs([dataDir, configDir]);
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}`;
  const configFile = join(configDir, 'alertmanager.yml');
  await writeFile(configFile, 'route:\n  receiver: default\nreceivers:\n  - name: default\n');
  const { pid, stop } = await launchServer({
    what: 'alertmanager',
    command: 'prometheus-alertmanager',
    baseDir,
    ownedHere,
    logFile,
    args: [`--config.file=${configFile}`, `--storage.path=${dataDir}`, `--web.listen-address=${LOOPBACK}:${port}`, ...clusterArgs(opts.cluster)],
    ready: () => httpOk(`${url}/-/ready`),
    timeoutMs: opts.startTimeoutMs ?? 120_000,
  });
  const createSilence = async (s: Omit<Silence, 'id' | 'status'>) => {
    const res = await fetch(`${url}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(s),
    });
    const body = await res.text();
    if (!res.ok) throw new Error(`alertmanager: create silence failed (${res.status}): ${body}`);
    return (JSON.parse(body) as { silenceID: string }).silenceID;
  };
  const listSilences = async () => (await (await fetch(`${url}/api/v2/silences`)).json()) as Silence[];
  const expireSilence = async (id: string) => {
    const res = await fetch(`${url}/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if (!res.ok) throw new Error(`alertmanager: expire silence ${id} failed (${res.status}): ${await res.text()}`);
  };
  return { pid, baseDir, dataDir, configDir, configFile, logFile, port, url, createSilence, listSilences, expireSilence, stop };
}

function clusterArgs(cluster: AlertmanagerOptions['cluster']): string[] {
  if (!cluster) return ['--cluster.listen-address='];
  return [`--cluster.listen-address=${LOOPBACK}:${cluster.listenPort}`, ...cluster.peerPorts.map((p) => `--cluster.peer=${LOOPBACK}:${p}`)];
}
