#!/usr/bin/env node
/**
 * Soak test of `lsbackup schedule` (issue 19): the BUILT CLI runs for a while with 2-second
 * ticks — two jobs of one cluster (so they queue), one of them slower than its tick (so ticks
 * are skipped), retention, and a webhook to a local HTTP server — while the scheduler's RSS and
 * open file descriptors are sampled from /proc, and its live heap after a full GC (and the V8
 * code space within it) by a small probe preloaded into it (node --expose-gc --require; one
 * forced GC per sample). Prints a summary and writes
 * bench/out/soak-<minutes>m.{json,md}. Not a test: a measurement.
 *
 *   npm run build && node bench/soak.mjs                  one hour
 *   node bench/soak.mjs --minutes 10 --sample 10          ten minutes, a sample every 10 s
 *   node bench/soak.mjs --quick                           one minute
 *   node bench/soak.mjs --cli /copy/dist/cli/lsbackup.js   measure another build
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const option = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const arg = (name, fallback) => (option(name) === undefined ? fallback : Number(option(name)));
// --cli: a copy of the built CLI, so a long soak is not disturbed by rebuilds of dist/.
const cli = path.resolve(option('--cli') ?? path.join(repo, 'dist/cli/lsbackup.js'));
const quick = process.argv.includes('--quick');
const minutes = arg('--minutes', quick ? 1 : 60);
const sampleSec = arg('--sample', quick ? 5 : 30);
if (!existsSync(cli)) {
  console.error('build first: npm run build');
  process.exit(1);
}

const ws = mkdtempSync(path.join(tmpdir(), 'lsbackup-soak-'));
const write = (rel, text) => {
  mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
  writeFileSync(path.join(ws, rel), text);
};
write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
write('data/config.ini', 'key=value\n'.repeat(200));
const recipe = (name, spec) => `apiVersion: lsbackup/v1\nkind: Recipe\nmetadata: { name: ${name}, version: 1.0.0, description: soak }\nspec:\n${spec}`;
write(
  'recipes/app.yaml',
  recipe(
    'app',
    `  hosts: { group: app }\n  backup:\n    snapshot:\n      - run: head -c 65536 /dev/urandom\n        output: random.bin\n    collect:\n      - path: ${ws}/data\n`,
  ),
);
// Slower than its 2 s tick: every other tick of 'slow' is skipped.
write('recipes/slow.yaml', recipe('slow', `  hosts: { group: app }\n  backup:\n    snapshot:\n      - run: sleep 2.5; echo slow\n        output: slow.txt\n`));

// A real HTTP endpoint for the webhooks; counts deliveries per event.
const received = {};
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const event = JSON.parse(body).event;
    received[event] = (received[event] ?? 0) + 1;
    res.writeHead(200).end('ok');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const hook = `http://127.0.0.1:${server.address().port}/hook`;

write(
  'lsbackup.config.yaml',
  `apiVersion: lsbackup/v1
kind: Config
cluster: soak
build: ./build
recipes: [./recipes]
retention: { keepLast: 3 }
notifications:
  - type: webhook
    url: ${hook}
jobs:
  fast:
    schedule: "*/2 * * * * *"
    targets: [./fast]
    components: { only: [app] }
  slow:
    schedule: "*/2 * * * * *"
    targets: [./slow]
    components: { only: [slow] }
`,
);

// The probe: on SIGUSR2, a full GC, then the live heap into a file (RSS alone mixes garbage in).
const heapFile = path.join(ws, 'heap.json');
write(
  'heap-probe.cjs',
  // Written aside and renamed: the reader never sees half a file.
  // Code space apart: compiled code grows as functions get hot (bounded), objects would be a leak.
  `process.on('SIGUSR2', () => { global.gc(); const m = process.memoryUsage(); const fs = require('node:fs'); ` +
    `const code = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0; ` +
    `fs.writeFileSync(${JSON.stringify(heapFile + '.tmp')}, JSON.stringify({ heapUsed: m.heapUsed, code, external: m.external, at: Date.now() })); ` +
    `fs.renameSync(${JSON.stringify(heapFile + '.tmp')}, ${JSON.stringify(heapFile)}); });\n`,
);
const child = spawn(process.execPath, ['--expose-gc', '--require', path.join(ws, 'heap-probe.cjs'), cli, 'schedule', '--json'], {
  cwd: ws,
  env: { ...process.env, XDG_CACHE_HOME: path.join(ws, 'cache') },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const mib = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
const liveHeapMiB = async () => {
  const asked = Date.now();
  child.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (existsSync(heapFile)) {
      const h = JSON.parse(readFileSync(heapFile, 'utf8'));
      if (h.at >= asked) return { heap: mib(h.heapUsed), code: mib(h.code) };
    }
  }
  return { heap: NaN, code: NaN };
};
const counts = { done: {}, skip: 0, queued: 0, warning: 0, other: 0 };
const warningTexts = new Set();
let buffer = '';
child.stdout.on('data', (chunk) => {
  buffer += chunk;
  const lines = buffer.split('\n');
  buffer = lines.pop();
  for (const line of lines) {
    const l = JSON.parse(line);
    if (l.type === 'schedule.done') counts.done[l.status] = (counts.done[l.status] ?? 0) + 1;
    else if (l.type === 'schedule.skip') counts.skip++;
    else if (l.type === 'schedule.queued') counts.queued++;
    else if (l.type === 'warning') {
      counts.warning++;
      if (warningTexts.size < 10) warningTexts.add(l.message);
    }
  }
});
let stderr = '';
child.stderr.on('data', (c) => (stderr += c));

const rssMiB = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
const fds = () => readdirSync(`/proc/${child.pid}/fd`).length;
const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const samples = [];
const started = Date.now();
const end = started + minutes * 60_000;
console.log(`soak: ${minutes} min of 2-second ticks, a sample every ${sampleSec} s (workspace ${ws})`);
while (Date.now() < end && child.exitCode === null) {
  await new Promise((r) => setTimeout(r, Math.min(sampleSec * 1000, end - Date.now())));
  if (child.exitCode !== null) break;
  const s = {
    atSec: Math.round((Date.now() - started) / 1000),
    rssMiB: Math.round(rssMiB() * 10) / 10,
    fds: fds(),
    runs: Object.values(counts.done).reduce((a, b) => a + b, 0),
    load1: loadavg(),
  };
  const live = await liveHeapMiB();
  s.heapMiB = live.heap;
  s.codeMiB = live.code;
  samples.push(s);
  console.log(
    `  ${String(s.atSec).padStart(5)} s  RSS ${s.rssMiB.toFixed(1).padStart(6)} MiB  live heap ${s.heapMiB.toFixed(1).padStart(5)} MiB (code ${s.codeMiB.toFixed(1)})  FDs ${s.fds}  runs ${s.runs}  load ${s.load1}`,
  );
}
child.kill('SIGTERM');
const exitCode = await new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', (code) => r(code))));
server.close();

// Trend of the second half (after warm-up): least-squares slope in MiB per hour.
const slope = (points, key) => {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.atSec, 0) / n;
  const my = points.reduce((a, p) => a + p[key], 0) / n;
  const num = points.reduce((a, p) => a + (p.atSec - mx) * (p[key] - my), 0);
  const den = points.reduce((a, p) => a + (p.atSec - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 3600;
};
const half = samples.slice(Math.floor(samples.length / 2));
const stat = (key) => ({
  first: samples[0]?.[key],
  min: Math.min(...samples.map((s) => s[key])),
  max: Math.max(...samples.map((s) => s[key])),
  last: samples.at(-1)?.[key],
});
const result = {
  minutes,
  sampleSec,
  exitCode,
  runs: counts.done,
  skippedTicks: counts.skip,
  queued: counts.queued,
  warnings: counts.warning,
  warningTexts: [...warningTexts],
  webhooks: received,
  rssMiB: { ...stat('rssMiB'), secondHalfSlopeMiBPerHour: Math.round(slope(half, 'rssMiB') * 10) / 10 },
  heapMiB: { ...stat('heapMiB'), secondHalfSlopeMiBPerHour: Math.round(slope(half, 'heapMiB') * 10) / 10 },
  codeSpaceMiB: { ...stat('codeMiB'), secondHalfSlopeMiBPerHour: Math.round(slope(half, 'codeMiB') * 10) / 10 },
  fds: { ...stat('fds'), secondHalfSlopePerHour: Math.round(slope(half, 'fds') * 10) / 10 },
  archivesLeft: {
    fast: readdirSync(path.join(ws, 'fast')).filter((n) => n.endsWith('.tar.gz')).length,
    slow: readdirSync(path.join(ws, 'slow')).filter((n) => n.endsWith('.tar.gz')).length,
  },
  samples,
};
const out = path.join(repo, 'bench/out');
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, `soak-${minutes}m.json`), JSON.stringify(result, null, 2) + '\n');
const md = [
  `soak ${minutes} min, 2-second ticks: exit ${exitCode}; runs ${JSON.stringify(counts.done)}; skipped ticks ${counts.skip}; queued ${counts.queued}; warnings ${counts.warning}; webhooks ${JSON.stringify(received)}`,
  `RSS MiB first ${result.rssMiB.first} min ${result.rssMiB.min} max ${result.rssMiB.max} last ${result.rssMiB.last}; second-half slope ${result.rssMiB.secondHalfSlopeMiBPerHour} MiB/h`,
  `live heap after GC MiB first ${result.heapMiB.first} min ${result.heapMiB.min} max ${result.heapMiB.max} last ${result.heapMiB.last}; second-half slope ${result.heapMiB.secondHalfSlopeMiBPerHour} MiB/h`,
  `of which code space MiB first ${result.codeSpaceMiB.first} last ${result.codeSpaceMiB.last}; second-half slope ${result.codeSpaceMiB.secondHalfSlopeMiBPerHour} MiB/h`,
  `FDs first ${result.fds.first} min ${result.fds.min} max ${result.fds.max} last ${result.fds.last}; second-half slope ${result.fds.secondHalfSlopePerHour}/h`,
  `archives left (retention keepLast 3): ${JSON.stringify(result.archivesLeft)}`,
  ...[...warningTexts].map((w) => `warning: ${w}`),
].join('\n');
writeFileSync(path.join(out, `soak-${minutes}m.md`), md + '\n');
console.log(md);
if (stderr.trim()) console.log(`scheduler stderr:\n${stderr.trim().split('\n').slice(-20).join('\n')}`);
rmSync(ws, { recursive: true, force: true });
process.exit(exitCode === 0 ? 0 : 1);
