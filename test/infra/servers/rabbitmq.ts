/**
 * A real RabbitMQ 3.10 (Debian rabbitmq-server) node, run as user `rabbitmq` with its own
 * environment (test/infra/README.md): node name, Erlang distribution on 127.0.0.1, its own epmd
 * (started here, so it is stopped here too), mnesia/log/config under a temp dir.
 * `rabbitmqctl(args)` runs the CLI with the same environment and cookie.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { readFile, writeFile, rm } from 'node:fs/promises';
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
  /**
   * `<baseDir>/bin/restart-rabbitmq` (caller must be root): stops the node and starts it again
   * with the same environment. Like `systemctl restart rabbitmq-server` (a Type=notify unit), it
   * exits 0 once the node has booted and non-zero when the node exits during its start, e.g. on
   * a rabbitmq.conf it refuses (the node's console output goes to `consoleLog`).
   */
  restartScript: string;
  /** The node's console output across restarts (why a start failed). */
  consoleLog: string;
  /** How many times restartScript has run. */
  restarts(): Promise<number>;
  /** The PID of the node running now (it changes at each restart); undefined when none runs. */
  currentPid(): number | undefined;
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
  const binDir = join(baseDir, 'bin');
  const rabbitmqctlScript = await writeRabbitmqctlScript(binDir, env);
  const consoleLog = join(logDir, 'console.log');
  const restartsLog = join(logDir, 'restarts.log');
  await writeFile(restartsLog, '');
  const restartScript = await writeRestartScript(binDir, env, { baseDir, consoleLog, restartsLog });
  // The node a restart started is not this process's child: known by the pid file, checked
  // against its working directory, baseDir (PIDs wrap fast on a busy machine).
  const currentPid = (): number | undefined => {
    try {
      const p = Number(readFileSync(pidFile, 'utf8').trim());
      return readlinkSync(`/proc/${p}/cwd`) === baseDir ? p : undefined;
    } catch {
      return undefined;
    }
  };
  process.once('exit', () => {
    const p = currentPid();
    if (p !== undefined) process.kill(p, 'SIGKILL');
  });
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
    stopNode = makeStop(pid, baseDir, ownedHere, {
      // `rabbitmqctl stop <pidfile>` waits for the file's PID; without the file (a restart whose
      // node did not start) it would wait forever.
      before: async () => void (currentPid() !== undefined && (await rabbitmqctl(['stop', pidFile]))),
      extraPids: () => [currentPid()].filter((p): p is number => p !== undefined),
    });
    // `rabbitmqctl wait` blocks until the app has fully started (or the node died).
    await rabbitmqctl(['wait', '--timeout', String(Math.ceil((opts.startTimeoutMs ?? 120_000) / 1000)), pidFile]);
  } catch (e) {
    await stop();
    throw e;
  }
  const restarts = async () => (await readFile(restartsLog, 'utf8')).split('\n').filter(Boolean).length;
  return {
    pid,
    baseDir,
    dataDir,
    configDir,
    configFile,
    logFile,
    port,
    nodeName,
    env,
    rabbitmqctl,
    rabbitmqctlScript,
    restartScript,
    consoleLog,
    restarts,
    currentPid,
    stop,
  };
}

const quote = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;

/** A script run with the node's environment (and, through runuser, as its user). */
async function writeNodeScript(path: string, env: Record<string, string>, body: string): Promise<string> {
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}=${quote(v)}`)
    .join('\n');
  await writeFile(path, `#!/bin/sh\n${exports}\n${body}`, { mode: 0o755 });
  return path;
}

/** A rabbitmqctl wrapper carrying the node's environment, so recipes can call plain `rabbitmqctl`. */
async function writeRabbitmqctlScript(dir: string, env: Record<string, string>): Promise<string> {
  await makeDirs([dir]);
  return writeNodeScript(join(dir, 'rabbitmqctl'), env, `exec runuser -p -u ${RMQ_USER} -- ${RMQ_BIN}/rabbitmqctl "$@"\n`);
}

/**
 * The node's restart, as systemd runs it: the node in the foreground (its own session, so the
 * SSH command that restarts it can end), and the exit status of its start. No crash dump when
 * a start fails; cwd baseDir, where processesMentioning finds the node.
 */
async function writeRestartScript(dir: string, env: Record<string, string>, o: { baseDir: string; consoleLog: string; restartsLog: string }): Promise<string> {
  return writeNodeScript(
    join(dir, 'restart-rabbitmq'),
    { ...env, ERL_CRASH_DUMP_SECONDS: '0' },
    `echo restart >> ${quote(o.restartsLog)}
cd ${quote(o.baseDir)} || exit 1
ctl() { runuser -p -u ${RMQ_USER} -- ${RMQ_BIN}/rabbitmqctl "$@"; }
if [ -f "$RABBITMQ_PID_FILE" ]; then
  old=$(cat "$RABBITMQ_PID_FILE")
  ctl -q stop >/dev/null 2>&1
  i=0; while kill -0 "$old" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done
  kill -9 "$old" 2>/dev/null
  rm -f "$RABBITMQ_PID_FILE"
fi
setsid runuser -p -u ${RMQ_USER} -- ${RMQ_BIN}/rabbitmq-server >> ${quote(o.consoleLog)} 2>&1 < /dev/null &
node=$!
end=$(( $(date +%s) + 600 ))
until ctl -q await_startup --timeout 10 >/dev/null 2>&1; do
  kill -0 "$node" 2>/dev/null || { echo "rabbitmq-server exited during its start (${o.consoleLog})" >&2; exit 1; }
  [ "$(date +%s)" -lt "$end" ] || { echo "rabbitmq-server did not start within 600 s" >&2; exit 1; }
  sleep 1
done
`,
  );
}
