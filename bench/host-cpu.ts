/**
 * The CPU the fleet's hosts spend on a run: sshd, the shells it starts and the commands they run.
 * On a real cluster that CPU is the hosts' own; here the hosts share the controller's two CPUs, so
 * it bounds how fast any controller can go.
 *
 * Counted by a control group that holds every host's sshd: what each forks joins it, and its
 * CPU counter keeps the time of processes that have ended. (Not from /proc's cutime: sshd's
 * post-authentication child can outlive the process that forked it, and its time is then lost to
 * the listener's count: 0.01 s for a 1 GB backup on this machine.) cgroup v1's cpuacct where it is
 * mounted, else cgroup v2; undefined where neither can be written (not root, no cgroup fs).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HostsCpu {
  /** CPU seconds the hosts have used since the group was made. */
  read(): Promise<number>;
  /** Moves what is left in the group back to the root group and removes it. */
  remove(): void;
}

const V1 = '/sys/fs/cgroup/cpuacct';
const V2 = '/sys/fs/cgroup';

export function hostsCpuGroup(pids: number[], name = `lsbackup-bench-hosts-${process.pid}`): HostsCpu | undefined {
  const v1 = existsSync(join(V1, 'cpuacct.usage'));
  const v2 = !v1 && existsSync(join(V2, 'cgroup.controllers'));
  if (!v1 && !v2) return undefined;
  const dir = join(v1 ? V1 : V2, name);
  try {
    mkdirSync(dir, { recursive: true });
    for (const pid of pids) writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
  } catch (e) {
    console.error(`[bench] hosts' CPU not counted: ${(e as Error).message}`);
    return undefined;
  }
  const seconds = v1
    ? () => Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e9
    : () => Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? NaN) / 1e6;
  return {
    read: () => Promise.resolve(seconds()),
    remove: () => {
      try {
        const left = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
        for (const pid of left) writeFileSync(join(dir, '..', 'cgroup.procs'), `${pid}\n`);
        rmdirSync(dir);
      } catch (e) {
        console.error(`[bench] ${dir} left behind: ${(e as Error).message}`);
      }
    },
  };
}
