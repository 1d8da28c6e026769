/**
 * The files an unattended run leaves for its monitoring (`--metrics-textfile`, `--report`) survive
 * a power loss: the built CLI runs under strace (Debian's strace), and each file's data is
 * flushed (fsync) before it is renamed into place, and its directory after. Without that, ext4
 * and XFS may put the rename on disk before the data: after a crash the final name holds an empty
 * file, node_exporter reports nothing for the job and the report says nothing.
 */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { cliPath, recipeYaml, workspace } from '../helpers/cli.js';
import { requireCommand } from '../helpers/prerequisites.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  requireCommand('strace', 'strace');
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', recipeYaml('app', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hello\n      output: out.txt\n'));
  await ws.write('lsbackup.config.yaml', 'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\ntargets: [./backups]\n');
});
afterEach(async () => ws.cleanup());

/** One traced system call: the call, its arguments as strace prints them, its result. */
interface Call {
  name: string;
  args: string;
  result: string;
}

function parseTrace(text: string): Call[] {
  // Threads interleave: a call strace splits into "<unfinished ...>" and "<... resumed>" is joined again.
  const unfinished = new Map<string, string>();
  const whole: string[] = [];
  for (const line of text.split('\n')) {
    const start = /^(\d+)\s+(.*) <unfinished \.\.\.>$/.exec(line);
    const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>(.*)$/.exec(line);
    if (start) unfinished.set(start[1]!, start[2]!);
    else if (resumed) whole.push(`${resumed[1]} ${unfinished.get(resumed[1]!) ?? ''}${resumed[2]}`);
    else whole.push(line);
  }
  return whole
    .map((line) => /^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[2]!, args: m[3]!, result: m[4]! }));
}

/**
 * Was `file` replaced durably: its temporary file's descriptor flushed before the rename onto
 * `file`, and a descriptor of its directory flushed after it?
 */
function replacedDurably(calls: Call[], file: string): string | true {
  const renameAt = calls.findIndex((c) => c.name.startsWith('rename') && c.args.endsWith(`"${file}"`) && c.result === '0');
  if (renameAt < 0) return `no rename onto ${file}`;
  const temp = /"([^"]+)"/.exec(calls[renameAt]!.args)![1]!;
  const opens = calls.slice(0, renameAt).flatMap((c, i) => (c.name === 'openat' && c.args.includes(`"${temp}"`) ? [i] : []));
  const opened = opens.at(-1) ?? -1;
  if (opened < 0) return `${temp} was not opened before the rename`;
  const fd = calls[opened]!.result;
  const flushed = calls.slice(opened, renameAt).some((c) => /^f(data)?sync$/.test(c.name) && c.args === fd);
  if (!flushed) return `${temp} (fd ${fd}) was renamed onto ${file} without an fsync`;
  const dir = path.dirname(file);
  const dirOpens = calls.slice(renameAt).filter((c) => c.name === 'openat' && c.args.includes(`"${dir}"`));
  const dirFlushed = dirOpens.some((o) => calls.slice(calls.indexOf(o)).some((c) => /^f(data)?sync$/.test(c.name) && c.args === o.result));
  return dirFlushed || `the directory ${dir} was not flushed after the rename onto ${file}`;
}

it('run: the metrics textfile and the --report file are flushed to the disk before and after their rename', async () => {
  const metrics = path.join(ws.dir, 'm.prom');
  const report = path.join(ws.dir, 'last-run.json');
  const trace = path.join(ws.dir, 'strace.txt');
  const r = await execa(
    'strace',
    [
      '-f',
      '-o',
      trace,
      '-e',
      'trace=openat,fsync,fdatasync,rename,renameat,renameat2',
      'node',
      cliPath,
      'run',
      '--metrics-textfile',
      metrics,
      '--report',
      report,
    ],
    { cwd: ws.dir, env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') }, reject: false, stdin: 'ignore', timeout: 120_000 },
  );
  expect(r.exitCode, r.stderr).toBe(0);
  expect(JSON.parse(await readFile(report, 'utf8')).status).toBe('success');
  const calls = parseTrace(await readFile(trace, 'utf8'));
  expect(replacedDurably(calls, metrics)).toBe(true);
  expect(replacedDurably(calls, report)).toBe(true);
});
