/**
 * The CPU the fleet's hosts spent on a run: sshd, the shells it starts and the commands they run.
 * On a real cluster that CPU is the hosts' own; here the hosts share the controller's two CPUs, so
 * it bounds how fast any controller can go. Read from /proc, whatever else the machine is doing:
 * each host's listening sshd and everything under it, a process's own utime/stime plus the
 * cutime/cstime of the children it has reaped (a connection that ended is in its listener's
 * cutime; one still open, such as Ansible's ControlPersist master's, is counted where it runs).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Ticks of `pid` and its reaped children, and its live children; undefined when it is gone. */
function read(pid: number): { ticks: number; children: number[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name: fields[0] is field 3 (state), so utime..cstime (14-17) are fields[11..14].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return { ticks, children };
  } catch {
    return undefined; // exited between the parent's listing and this read: its CPU is in the parent's cutime once reaped
  }
}

function ticksUnder(pid: number): number {
  const own = read(pid);
  return own ? own.ticks + own.children.reduce((sum, child) => sum + ticksUnder(child), 0) : 0;
}

/** CPU seconds the sshd listeners `pids` and everything they started have used so far. */
export function hostsCpuSeconds(pids: number[]): Promise<number> {
  return Promise.resolve(pids.reduce((sum, pid) => sum + ticksUnder(pid), 0) / TICKS_PER_SECOND);
}
