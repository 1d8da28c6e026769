/**
 * A REAL ZooKeeper run as a "service": a start/stop script a recipe calls (as it would call
 * `systemctl start|stop zookeeper`), which logs every call in order, so a test can check
 * that a restore stopped, replaced and started in that order. The server is the one
 * test/infra/servers/zookeeper.ts configures (port, zoo.cfg, data dir); stop() ends it by
 * the PID the script recorded.
 */
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startZooKeeper, fourLetterWord, type ZooKeeperServer } from '../infra/servers/zookeeper.js';
import { killAndWait, pathExists, readPidFile, runChecked, waitUntil } from '../infra/servers/common.js';

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
  const zk = await startZooKeeper({ baseDir, ...options });
  await zk.stop();
  const pidFile = join(baseDir, 'zookeeper.pid');
  const callsLog = join(baseDir, 'service-calls.log');
  const script = join(baseDir, 'zookeeper-service');
  await writeFile(callsLog, '');
  await writeFile(
    script,
    `#!/bin/sh
# zookeeper-service: test service wrapper around a real ZooKeeper (test/components/zookeeper-service.ts)
echo "$1" >> '${callsLog}'
pidfile='${pidFile}'
# PIDs wrap fast on a busy machine: a stale pid file must never make us signal a stranger.
running() { [ -f "$pidfile" ] && tr '\\0' ' ' < "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -qF '${zk.configFile}'; }
case "$1" in
  start)
    running && exit 0
    # setsid: its own session, so the SSH/sudo command that started it can end without it.
    setsid java -Xmx256m -cp '${zk.configDir}:/usr/share/java/zookeeper.jar' org.apache.zookeeper.server.quorum.QuorumPeerMain '${zk.configFile}' >> '${zk.logFile}' 2>&1 < /dev/null &
    echo $! > "$pidfile" ;;
  stop)
    if running; then
      pid=$(cat "$pidfile"); kill "$pid"; i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
      kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$pidfile" ;;
  *) echo "usage: $0 start|stop" >&2; exit 64 ;;
esac
`,
    { mode: 0o755 },
  );
  // Only our server: after it died its pid may belong to anyone (pids wrap fast here).
  const ours = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(zk.configFile);
    } catch {
      return false;
    }
  };
  // Last resort if the test process exits without stop(): kill the server the pid file names now.
  process.once('exit', () => {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (ours(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      /* not running */
    }
  });
  const ready = async () => {
    const pid = await readPidFile(pidFile);
    await waitUntil('zookeeper service', async () => /^Mode: /m.test(await fourLetterWord(zk.port, 'srvr')), {
      timeoutMs: 60_000,
      logFile: zk.logFile,
      alivePid: pid,
    });
  };
  return {
    zk,
    script,
    calls: async () => (await readFile(callsLog, 'utf8')).split('\n').filter(Boolean),
    start: async () => {
      await runChecked(script, ['start']);
      await ready();
    },
    ready,
    znodeData: async (path) => (await zk.zkCli(['get', path])).trim().split('\n').at(-1) ?? '',
    stop: async () => {
      if (!(await pathExists(pidFile))) return;
      const pid = await readPidFile(pidFile);
      if (ours(pid)) await killAndWait(pid);
      await rm(pidFile, { force: true });
    },
  };
}
