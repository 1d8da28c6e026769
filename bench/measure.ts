/**
 * Runs one command under GNU `/usr/bin/time -v` (Debian package `time`) and reads wall time,
 * CPU and peak RSS from the OS. Peak RSS is the largest single process of the command's tree
 * (ru_maxrss of waited-for children), so for lsbackup it is the Node process.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface Measurement {
  wallS: number;
  cpuS: number;
  maxRssMiB: number;
  exitCode: number;
  /** 1-minute load average just before the run (other engineers share this machine). */
  load1: number;
  /** CPU the fleet's hosts spent on the run (bench/host-cpu.ts), when the comparison counts it. */
  hostsCpuS?: number;
  stderrTail: string;
}

/** One benchmark of the results table: its runs, measured with the same command. */
export interface Row {
  group: string;
  name: string;
  command: string;
  bytes: number;
  runs: Measurement[];
}

export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

function field(report: string, label: string): string {
  const line = report.split('\n').find((l) => l.trim().startsWith(label));
  if (!line) throw new Error(`'/usr/bin/time -v' printed no '${label}'`);
  return line.slice(line.lastIndexOf(': ') + 2).trim();
}

/** "h:mm:ss" or "m:ss.ss" to seconds. */
function clock(text: string): number {
  return text.split(':').reduce((total, part) => total * 60 + Number(part), 0);
}

/** One command of a comparison (bench/main.ts compare()): `after` cleans up after each run. */
export interface Contender {
  name: string;
  argv: string[];
  after: () => void;
}

export async function measure(
  argv: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; scratch: string; hostsCpu?: () => Promise<number> },
): Promise<Measurement> {
  const reportFile = join(options.scratch, `.time-${process.pid}-${Date.now()}.txt`);
  const load1 = loadAverage();
  const hostsBefore = await options.hostsCpu?.();
  const child = spawn('/usr/bin/time', ['-v', '-o', reportFile, ...argv], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  // stdout too: with --json lsbackup reports a host's failure there.
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
  const report = readFileSync(reportFile, 'utf8');
  rmSync(reportFile, { force: true });
  const hostsAfter = await options.hostsCpu?.();
  return {
    ...(hostsBefore !== undefined && hostsAfter !== undefined ? { hostsCpuS: hostsAfter - hostsBefore } : {}),
    wallS: clock(field(report, 'Elapsed (wall clock) time')),
    cpuS: Number(field(report, 'User time (seconds)')) + Number(field(report, 'System time (seconds)')),
    maxRssMiB: Number(field(report, 'Maximum resident set size (kbytes)')) / 1024,
    exitCode,
    load1,
    stderrTail: stderr.slice(-1500),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
