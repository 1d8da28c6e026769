/**
 * A real RabbitMQ 3.10 (Debian rabbitmq-server) node, run as user `rabbitmq` with its own
 * environment (test/infra/README.md): node name, Erlang distribution on 127.0.0.1, its own epmd
 * (started here, so it is stopped here too), mnesia/log/config under a temp dir.
 * `rabbitmqctl(args)` runs the CLI with the same environment and cookie.
 */
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LOOPBACK,
  type BaseServerOptions,
  type RunningServer,
  freePorts,
  prepareBaseDir,
  makeDirs,
  makeStop,
  spawnServer,
  runChecked,
  readPidFile,
  killAtExit,
  killAndWait,
  waitUntil,
  chownTree,
  pathExists,
} from './common.js';

const RMQ_USER = 'rabbitmq';
const RMQ_BIN = '/usr/lib/rabbitmq/bin';

export interface RabbitmqServer extends RunningServer {
  /** AMQP port. */
  port: number;
  nodeName: string;
  /** The environment rabbitmq-server and rabbitmqctl run with (HOME holds the cookie). */
  env: Record<string, string>;
  /** rabbitmq.conf (stands in for /etc/rabbitmq/rabbitmq.conf). */
  configFile: string;
  /** Runs rabbitmqctl as `rabbitmq` against this node; returns stdout. */
  rabbitmqctl(args: string[], input?: string): Promise<string>;
  /**
   * `<baseDir>/bin/rabbitmqctl`: the real CLI with this node's environment, run as
   * `rabbitmq` (caller must be root) — put its dir first on a recipe's PATH.
   */
  rabbitmqctlScript: string;
}

export async function startRabbitmq(opts: BaseServerOptions = {}): Promise<RabbitmqServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('rmq', opts, RMQ_USER);
  const dataDir = join(baseDir, 'mnesia');
  const configDir = join(baseDir, 'etc');
  const logDir = join(baseDir, 'log');
  const logFile = join(logDir, 'server.log');
  await makeDirs([dataDir, configDir, logDir], RMQ_USER);
  const [port, distPort, epmdPort] = (await freePorts(3)) as [number, number, number];
  const nodeName = `lsb${port}@localhost`;
  const configFile = join(configDir, 'rabbitmq.conf');
  const pidFile = join(baseDir, 'rabbitmq.pid');
  const pluginsFile = join(configDir, 'enabled_plugins');
  await writeFile(configFile, `listeners.tcp.1 = ${LOOPBACK}:${port}\nloopback_users = none\n`);
  if (!(await pathExists(pluginsFile))) await writeFile(pluginsFile, '[].\n');
  await chownTree(configDir, RMQ_USER);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: baseDir,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_ADDRESS: LOOPBACK,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_MNESIA_BASE: dataDir,
    RABBITMQ_LOG_BASE: logDir,
    RABBITMQ_PID_FILE: pidFile,
    RABBITMQ_ENABLED_PLUGINS_FILE: pluginsFile,
    RABBITMQ_CONFIG_FILE: configFile,
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  // Our own epmd, in the foreground and tracked, so nothing outlives the test.
  const epmdPid = spawnServer('epmd', ['-address', LOOPBACK, '-port', String(epmdPort)], {
    logFile: join(logDir, 'epmd.log'),
    env,
    user: RMQ_USER,
    keepEnv: true,
    cwd: baseDir, // cwd: found by processesMentioning
  });
  const rabbitmqctlScript = await writeRabbitmqctlScript(join(baseDir, 'bin'), env);
  const rabbitmqctl = async (args: string[], input?: string) =>
    // A hang detector: each call boots an Erlang VM, which took over 60 s at load 27 on 2 cores.
    (await runChecked(rabbitmqctlScript, args, { input, timeoutMs: 300_000 })).stdout;
  let pid = 0;
  const stop = async () => {
    await stopNode();
    await killAndWait(epmdPid);
    if (!pid && ownedHere) await rm(baseDir, { recursive: true, force: true });
  };
  let stopNode: () => Promise<void> = async () => undefined;
  try {
    await runChecked(join(RMQ_BIN, 'rabbitmq-server'), ['-detached'], { env, user: RMQ_USER, keepEnv: true, cwd: baseDir });
    await waitUntil('rabbitmq pid file', () => pathExists(pidFile), { timeoutMs: 120_000, logFile });
    pid = await readPidFile(pidFile);
    killAtExit(pid);
    stopNode = makeStop(pid, baseDir, ownedHere, { before: async () => void (await rabbitmqctl(['stop', pidFile])) });
    // `rabbitmqctl wait` blocks until the app has fully started (or the node died).
    await rabbitmqctl(['wait', '--timeout', String(Math.ceil((opts.startTimeoutMs ?? 120_000) / 1000)), pidFile]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid, baseDir, dataDir, configDir, configFile, logFile, port, nodeName, env, rabbitmqctl, rabbitmqctlScript, stop };
}

/** A rabbitmqctl wrapper carrying the node's environment, so recipes can call plain `rabbitmqctl`. */
async function writeRabbitmqctlScript(dir: string, env: Record<string, string>): Promise<string> {
  await makeDirs([dir]);
  const quote = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}=${quote(v)}`)
    .join('\n');
  const script = join(dir, 'rabbitmqctl');
  await writeFile(script, `#!/bin/sh\n${exports}\nexec runuser -p -u ${RMQ_USER} -- ${RMQ_BIN}/rabbitmqctl "$@"\n`, { mode: 0o755 });
  return script;
}
