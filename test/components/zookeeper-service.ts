/**
 * A REAL ZooKeeper run as a "service" (service-script.ts: a start/stop script a recipe calls as
 * it would call `systemctl start|stop zookeeper`, logging every call in order). The server is the
 * one test/infra/servers/zookeeper.ts configures (port, zoo.cfg, data dir).
 */
import { startZooKeeper, fourLetterWord, zkServerClasspath, type ZooKeeperServer } from '../infra/servers/zookeeper.js';
import { freePortOutsideEphemeral, readPidFile, runChecked, waitUntil } from '../infra/servers/common.js';
import { writeServiceScript } from './service-script.js';

export interface ZooKeeperService {
  zk: ZooKeeperServer;
  /** `<script> start|stop`, for a recipe's zk_service_start/zk_service_stop. */
  script: string;
  /** The service calls so far, in order: 'start' | 'stop'. */
  calls(): Promise<string[]>;
  /** Starts it through the script and waits until it serves. */
  start(): Promise<void>;
  /** Waits until it serves requests (after a recipe started it). */
  ready(): Promise<void>;
  znodeData(path: string): Promise<string>;
  /** Ends the server by PID (if running); keeps its files in baseDir. */
  stop(): Promise<void>;
}

export async function startZooKeeperService(baseDir: string, options: { separateDataLogDir?: boolean } = {}): Promise<ZooKeeperService> {
  // The infra helper writes zoo.cfg and the zkCli script; the service script runs it from then on.
  // A restore stops and starts it on the same port: one no outgoing connection can take meanwhile.
  const zk = await startZooKeeper({ baseDir, ...options, port: await freePortOutsideEphemeral() });
  await zk.stop();
  const service = await writeServiceScript({
    dir: baseDir,
    command: ['java', '-Xmx256m', '-cp', zkServerClasspath(zk.configDir), 'org.apache.zookeeper.server.quorum.QuorumPeerMain', zk.configFile],
    identity: zk.configFile,
    logFile: zk.logFile,
  });
  const ready = async () => {
    const pid = await readPidFile(service.pidFile);
    await waitUntil('zookeeper service', async () => /^Mode: /m.test(await fourLetterWord(zk.port, 'srvr')), {
      timeoutMs: 60_000,
      logFile: zk.logFile,
      alivePid: pid,
    });
  };
  return {
    zk,
    script: service.script,
    calls: service.calls,
    start: async () => {
      await runChecked(service.script, ['start']);
      await ready();
    },
    ready,
    znodeData: async (path) => (await zk.zkCli(['get', path])).trim().split('\n').at(-1) ?? '',
    stop: service.stop,
  };
}
