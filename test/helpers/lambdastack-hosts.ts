/**
 * Hosts laid out as LambdaStack lays them out, on one machine: each fleet host's sshd runs in a
 * private mount namespace (test/fleet/fleet.ts `mountSetup`) where /etc, /var/lib, /var/log,
 * /var/tmp, /opt, /run and /usr/local/bin are overlays of this machine's (so a host's own paths, e.g. /opt/zookeeper, are
 * made there and never on this machine), the cluster's names resolve as LambdaStack's
 * /etc/hosts makes them, directories of test servers appear at LambdaStack's paths (bind
 * mounts), some binaries are hidden (a LambdaStack host has no etcdctl or haproxy), and
 * /usr/local/sbin holds a `systemctl` and the commands a test puts there.
 *
 * STAND-IN: `systemctl` — no systemd runs here. `systemctl <verb> [--quiet] <unit>` runs the
 * unit's service script (`units/<unit> start|stop|restart|status`), which a test writes
 * (serviceScript) or takes from a server helper. Everything a recipe runs through it runs inside the host's namespace.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { shellQuote as q } from '../../engine/template/quote.js';

/** The directories each host gets a private copy of (an overlay: reads see this machine's). */
// /var/tmp too: recipes keep per-run lists there, and two machines never share theirs (with a
// shared one, the master's cleanup of kubernetes-volumes' list removed the worker's).
// /usr/local/bin too: LambdaStack unpacks some binaries there (Prometheus, Alertmanager, Helm).
const PRIVATE_ROOTS = ['/etc', '/var/lib', '/var/log', '/var/tmp', '/opt', '/run', '/usr/local/bin'];

/** Whether `path` is inside a host's private copy: binds and links are made only there, never on this machine. */
function isPrivate(path: string): boolean {
  return PRIVATE_ROOTS.some((root) => path === root || path.startsWith(`${root}/`));
}

export interface LambdaStackHostLayout {
  /** Inventory name (also the fleet host's name). */
  name: string;
  /** `<hosts>/<name>`: the overlays' upper dirs, the bin dir, the units. */
  dir: string;
  /** LambdaStack path on the host → a directory or file of this machine shown there. */
  binds: Array<[string, string]>;
  /**
   * Symbolic links the host has, made (by root, with their target directory) before the binds:
   * LambdaStack path → its target, e.g. /opt/kafka → /opt/kafka_2.12-2.6.0, as its roles link
   * /opt/kafka and /opt/zookeeper to the installed release. A bind below a link lands in its target.
   */
  links?: Array<[string, string]>;
  /** Binaries made invisible on the host (found by `command -v` here, absent there). */
  hide: string[];
  /** systemd unit name → service script (`<script> start|stop|restart|status`; status exits 0 while it runs). */
  units: Record<string, string>;
  /** Commands put on the host's PATH (/usr/local/sbin): name → an executable of this machine, e.g. a crictl stand-in. */
  commands?: Record<string, string>;
}

/**
 * `/etc/hosts` as LambdaStack writes it: every inventory name with its address; and the name the
 * hosts share with this machine (one UTS namespace), which sudo resolves.
 */
export function etcHosts(hosts: Array<{ name: string; address: string }>): string {
  return `127.0.0.1 localhost ${hostname()}\n${hosts.map((h) => `${h.address} ${h.name}\n`).join('')}`;
}

/** The systemctl stand-in (see the header). */
const SYSTEMCTL = `#!/bin/sh
# systemctl stand-in for tests (test/helpers/lambdastack-hosts.ts): no systemd runs here.
verb=$1; shift
[ "$1" = --quiet ] && shift
unit=\${1%.service}
script="$(dirname "$0")/units/$unit"
[ -x "$script" ] || { echo "systemctl stand-in: Unit $unit.service not found." >&2; exit 5; }
case $verb in
  reload-or-restart|try-restart) verb=restart ;;
  is-active) verb=status ;;
esac
exec "$script" "$verb"
`;

/**
 * Writes the host's files and returns the shell its sshd runs (as root) in its new mount
 * namespace before it starts.
 */
export function hostMountSetup(layout: LambdaStackHostLayout, hostsFile: string): string {
  const sbin = join(layout.dir, 'sbin');
  mkdirSync(join(sbin, 'units'), { recursive: true });
  writeFileSync(join(sbin, 'systemctl'), SYSTEMCTL, { mode: 0o755 });
  for (const [unit, script] of Object.entries(layout.units)) {
    writeFileSync(join(sbin, 'units', unit), `#!/bin/sh\nexec ${q(script)} "$@"\n`, { mode: 0o755 });
  }
  for (const [name, file] of Object.entries(layout.commands ?? {})) writeFileSync(join(sbin, name), `#!/bin/sh\nexec ${q(file)} "$@"\n`, { mode: 0o755 });
  const hidden = join(layout.dir, 'hidden');
  writeFileSync(hidden, '');
  const lines: string[] = [];
  for (const root of PRIVATE_ROOTS) {
    const upper = join(layout.dir, 'overlay', root, 'upper');
    const work = join(layout.dir, 'overlay', root, 'work');
    mkdirSync(upper, { recursive: true });
    mkdirSync(work, { recursive: true });
    lines.push(`mount -t overlay overlay -o ${q(`lowerdir=${root},upperdir=${upper},workdir=${work}`)} ${root}`);
  }
  lines.push(`mount --bind ${q(hostsFile)} /etc/hosts`, `mount --bind ${q(sbin)} /usr/local/sbin`);
  for (const bin of layout.hide) {
    lines.push(`if e=$(command -v ${q(bin)}); then mount --bind ${q(hidden)} "$e"; fi`);
  }
  // A bind or link elsewhere would be made on this machine's own file system (a bind target is created, a directory emptied).
  const outside = [...layout.binds.map(([target]) => target), ...(layout.links ?? []).flat()].filter((p) => !isPrivate(p));
  if (outside.length > 0) throw new Error(`${layout.name}: ${outside.join(', ')} not under ${PRIVATE_ROOTS.join(', ')}: add its root to PRIVATE_ROOTS`);
  for (const [link, target] of layout.links ?? []) lines.push(`mkdir -p ${q(target)}`, `ln -s ${q(target)} ${q(link)}`);
  for (const [target, source] of layout.binds) {
    // A file is mounted on a file, a directory on a directory (made in the host's overlay).
    lines.push(
      `if [ -d ${q(source)} ]; then rm -rf ${q(target)}; mkdir -p ${q(target)}; else mkdir -p "$(dirname ${q(target)})"; : > ${q(target)}; fi`,
      `mount --bind ${q(source)} ${q(target)}`,
    );
  }
  return lines.join('\n');
}

/**
 * A service script for a server the host runs itself (started in the host's namespace, so it
 * sees LambdaStack's paths): start (in its own session, logging to logFile), stop (TERM, then
 * KILL after a generous wait), restart, status (exit 0 while it runs). Only ever signals the process it started.
 */
export function serviceScript(file: string, command: string[], logFile: string): string {
  const pidFile = `${file}.pid`;
  writeFileSync(
    file,
    `#!/bin/sh
# Service script (test/helpers/lambdastack-hosts.ts) for: ${command.join(' ').replace(/\n/g, ' ')}
pidfile=${q(pidFile)}
# PIDs wrap on a busy machine: a stale pid file must never make us signal a stranger.
running() { [ -f "$pidfile" ] && [ "$(cat "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | tr '\\0' ' ')" = ${q(`${command.join(' ')} `)} ]; }
start() {
  running && return 0
  setsid ${command.map(q).join(' ')} >> ${q(logFile)} 2>&1 < /dev/null &
  echo $! > "$pidfile"
}
stop() {
  if running; then
    pid=$(cat "$pidfile"); kill "$pid"; i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}
case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) running ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 64 ;;
esac
`,
    { mode: 0o755 },
  );
  return file;
}

/** Runs `argv` as root inside the mount namespace of the host whose sshd has `pid`. */
export function inHost(pid: number, argv: string[], input?: string): string {
  return execFileSync('nsenter', ['--mount', '--target', String(pid), ...argv], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A path as the host sees it (through /proc/<pid>/root, its mount namespace), to read or write from here. */
export function hostPath(pid: number, path: string): string {
  return join(`/proc/${pid}/root`, path);
}
