#!/usr/bin/env node
// Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per
// package/file, the top entries. Usage: node bench/profile-summary.mjs <file.cpuprofile> [top]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(64);
}
const top = Number(topArg ?? 15);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
// timeDeltas[i] is the time before samples[i]: attribute it to that sample's node.
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const where = (url) => {
  if (!url) return '(native/V8)';
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url;
  return url.replace(/^.*\/dist\//, 'dist/');
};
const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
const fns = new Map();
const files = new Map();
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id);
  const fn = `${callFrame.functionName || '(anonymous)'} ${where(callFrame.url)}${callFrame.url ? ':' + (callFrame.lineNumber + 1) : ''}`;
  add(fns, fn, us);
  add(files, where(callFrame.url), us);
}
const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s  ${key}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled on the main thread`);
print('self time by function', fns);
print('self time by file/package', files);
