/**
 * The CPU the fleet's hosts spent on a run: sshd, the shells it starts and the commands they run.
 * On a real cluster that CPU is the hosts' own; here the hosts share the controller's two CPUs, so
 * it bounds how fast any controller can go. Read from /proc: each host's listening sshd reaps the
 * per-connection sshd it forks, which reaps its sessions, so the listener's cutime/cstime (plus its
 * own utime/stime) add up everything the host ran, whatever else the machine is doing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime + cutime + cstime of `pid`, in seconds (proc(5): fields 14-17, after the command name). */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, i.e. fields[11].
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / TICKS_PER_SECOND;
}

function hasChildren(pid: number): boolean {
  const file = `/proc/${pid}/task/${pid}/children`;
  return existsSync(file) && readFileSync(file, 'utf8').trim() !== '';
}

/**
 * The hosts' CPU so far, once every connection a run opened has ended: a child still running or
 * not yet reaped is not counted in cutime yet. Waits for that up to `limitMs` (a connection left
 * behind by a failed run is counted as far as it got, and said).
 */
export async function hostsCpuSeconds(pids: number[], limitMs = 10_000): Promise<number> {
  for (let waited = 0; pids.some(hasChildren); waited += 50) {
    if (waited >= limitMs) {
      console.error(`[bench] hosts' CPU read with connections still open (sshd ${pids.filter(hasChildren).join(', ')})`);
      break;
    }
    await sleep(50);
  }
  return pids.reduce((sum, pid) => sum + cpuOf(pid), 0);
}
