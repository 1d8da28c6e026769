/**
 * A REAL server run as a "service": a start/stop script a recipe calls (as it would call
 * `systemctl start|stop <unit>`), which logs every call in order, so a test can check that a
 * restore stopped, replaced and started in that order. The script knows its server by the PID it
 * recorded, checked against the process's command line (PIDs wrap fast on a busy machine);
 * stop() ends it the same way, and so does this process's exit if a test never called stop().
 */
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killAndWait, pathExists, readPidFile } from '../infra/servers/common.js';

export interface ServiceScript {
  /** `<script> start|stop`, for a recipe's service start/stop vars. */
  script: string;
  pidFile: string;
  /** The service calls so far, in order: 'start' | 'stop'. */
  calls(): Promise<string[]>;
  /** Ends the server by PID (if running). */
  stop(): Promise<void>;
}

export interface ServiceScriptOptions {
  /** Where the script, its PID file and its call log go. */
  dir: string;
  /** The server's command line (each word quoted on its own in the script). */
  command: string[];
  /** Text only this server's command line holds (its config file): how a PID is known to be ours. */
  identity: string;
  /** The server's stdout and stderr. */
  logFile: string;
}

const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

export async function writeServiceScript(o: ServiceScriptOptions): Promise<ServiceScript> {
  const pidFile = join(o.dir, 'service.pid');
  const callsLog = join(o.dir, 'service-calls.log');
  const script = join(o.dir, 'service');
  await writeFile(callsLog, '');
  await writeFile(
    script,
    `#!/bin/sh
# test service wrapper around a real server (test/components/service-script.ts)
echo "$1" >> ${quote(callsLog)}
pidfile=${quote(pidFile)}
# PIDs wrap fast on a busy machine: a stale pid file must never make us signal a stranger.
running() { [ -f "$pidfile" ] && tr '\\0' ' ' < "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -qF ${quote(o.identity)}; }
case "$1" in
  start)
    running && exit 0
    # setsid: its own session, so the SSH/sudo command that started it can end without it.
    setsid ${o.command.map(quote).join(' ')} >> ${quote(o.logFile)} 2>&1 < /dev/null &
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
  const ours = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(o.identity);
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
  return {
    script,
    pidFile,
    calls: async () => (await readFile(callsLog, 'utf8')).split('\n').filter(Boolean),
    stop: async () => {
      if (!(await pathExists(pidFile))) return;
      const pid = await readPidFile(pidFile);
      if (ours(pid)) await killAndWait(pid);
      await rm(pidFile, { force: true });
    },
  };
}
