/**
 * A real HAProxy 2.6 (Debian haproxy), daemonized with `haproxy -D -f cfg`, a pidfile and
 * an admin stats socket. Its config dir and SSL dir stand in for /etc/haproxy and
 * /etc/ssl/haproxy (recipes take both as vars), so tests never touch the real /etc.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LOOPBACK,
  type BaseServerOptions,
  type RunningServer,
  freePorts,
  prepareBaseDir,
  makeDirs,
  makeStop,
  runChecked,
  readPidFile,
  killAtExit,
  waitUntil,
  tcpAnswers,
  socketRequest,
} from './common.js';

export interface HaproxyServer extends RunningServer {
  /** The frontend port. */
  port: number;
  /** The port the frontend's backend server points at (nothing needs to listen there). */
  backendPort: number;
  /** haproxy.cfg (stands in for /etc/haproxy/haproxy.cfg). */
  configFile: string;
  /** Stands in for /etc/ssl/haproxy; holds a placeholder PEM so there is something to back up. */
  sslDir: string;
  statsSocket: string;
  /** Sends one command to the admin stats socket (e.g. 'show info'); returns the answer. */
  stats(command: string): Promise<string>;
  /** `haproxy -c -f <configFile>`: throws with haproxy's message when the config is invalid. */
  checkConfig(): Promise<string>;
}

export async function startHaproxy(opts: BaseServerOptions = {}): Promise<HaproxyServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('haproxy', opts);
  const configDir = join(baseDir, 'etc', 'haproxy');
  const sslDir = join(baseDir, 'etc', 'ssl', 'haproxy');
  const runDir = join(baseDir, 'run');
  const logFile = join(baseDir, 'haproxy.log');
  await makeDirs([configDir, sslDir, runDir]);
  const [port, backendPort] = (await freePorts(2)) as [number, number];
  const configFile = join(configDir, 'haproxy.cfg');
  const pidFile = join(runDir, 'haproxy.pid');
  const statsSocket = join(runDir, 'admin.sock');
  await writeFile(
    configFile,
    [
      'global',
      `  pidfile ${pidFile}`,
      `  stats socket ${statsSocket} mode 600 level admin`,
      'defaults',
      '  mode http',
      '  retries 0', // the test backend is down on purpose: answer 503 at once
      '  timeout connect 2s',
      '  timeout client 5s',
      '  timeout server 5s',
      'frontend web',
      `  bind ${LOOPBACK}:${port}`,
      '  default_backend app',
      'backend app',
      `  server app1 ${LOOPBACK}:${backendPort}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(sslDir, 'README'), 'placeholder for the certificates LambdaStack puts in /etc/ssl/haproxy\n');
  const checkConfig = async () => {
    const { stdout, stderr } = await runChecked('haproxy', ['-c', '-f', configFile]);
    return stdout + stderr;
  };
  // -D: haproxy daemonizes itself and writes the pidfile; output goes to our log.
  await runChecked('sh', ['-c', `exec haproxy -D -f "$1" >>"$2" 2>&1`, 'sh', configFile, logFile], { cwd: baseDir });
  const pid = await readPidFile(pidFile);
  killAtExit(pid);
  const stop = makeStop(pid, baseDir, ownedHere); // SIGTERM: hard stop, no waiting for idle clients
  try {
    await waitUntil('haproxy', () => tcpAnswers(port), { timeoutMs: opts.startTimeoutMs ?? 120_000, logFile, alivePid: pid });
  } catch (e) {
    await stop();
    throw e;
  }
  const stats = (command: string) => socketRequest({ path: statsSocket }, command + '\n');
  return { pid, baseDir, dataDir: runDir, configDir, configFile, sslDir, statsSocket, logFile, port, backendPort, stats, checkConfig, stop };
}
