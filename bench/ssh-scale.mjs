/**
 * Wall time of the same backup work on 1 host vs N hosts over real SSH (issue 3's figures).
 * Each host has its own MB_PER_HOST of incompressible data, collected as one tar stream and
 * re-packed into the archive by the BUILT CLI. Not a test: prints figures to stdout.
 *
 *   npm run build && npx vite-node bench/ssh-scale.mjs        (vite-node: the fleet helper is TypeScript)
 *   HOSTS=8 MB_PER_HOST=50 RUNS=2 FORMAT=tar.gz npx vite-node bench/ssh-scale.mjs
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFleet } from '../test/fleet/fleet.ts';

const hostsMax = Number(process.env.HOSTS ?? 8);
const mbPerHost = Number(process.env.MB_PER_HOST ?? 50);
const runs = Number(process.env.RUNS ?? 2);
const format = process.env.FORMAT ?? 'tar.gz';
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli/lsbackup.js');

const recipe = `apiVersion: lsbackup/v1
kind: Recipe
metadata: { name: bulk, version: 1.0.0, description: bench data }
spec:
  hosts: { group: app, run: all }
  vars: { data: /nonexistent }
  backup:
    collect:
      - path: "{{vars.data}}"
`;

const fleet = await startFleet({ hosts: hostsMax });
const dir = mkdtempSync(path.join(tmpdir(), 'lsb-bench-ssh-'));
chmodSync(dir, 0o755);
try {
  mkdirSync(path.join(dir, 'recipes'));
  writeFileSync(path.join(dir, 'recipes', 'bulk.yaml'), recipe);
  mkdirSync(path.join(dir, 'home'));
  for (const h of fleet.hosts) {
    const data = path.join(dir, 'data', h.name);
    mkdirSync(data, { recursive: true });
    execFileSync('sh', ['-c', `head -c ${mbPerHost * 1024 * 1024} /dev/urandom > ${data}/blob.bin`]);
  }
  const build = (n) => {
    const b = path.join(dir, `build${n}`);
    fleet.writeInventory(b, Object.fromEntries(fleet.hosts.slice(0, n).map((h) => [h.name, ['app']])));
    mkdirSync(path.join(b, 'host_vars'), { recursive: true });
    for (const h of fleet.hosts.slice(0, n)) writeFileSync(path.join(b, 'host_vars', `${h.name}.yml`), `data: ${path.join(dir, 'data', h.name)}\n`);
    return b;
  };

  const rows = [];
  let lastSummary = '';
  for (const n of [1, hostsMax]) {
    const b = build(n);
    for (let i = 0; i < runs; i++) {
      const target = path.join(dir, `out-${n}-${i}`);
      const started = process.hrtime.bigint();
      const r = spawnSync('node', [cli, 'apply', path.join(dir, 'recipes'), '-b', b, '-t', target, '-f', format], {
        env: { ...process.env, HOME: path.join(dir, 'home'), SSH_AUTH_SOCK: '' },
        encoding: 'utf8',
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (r.status !== 0) throw new Error(`run with ${n} host(s) exited ${r.status}: ${r.stderr}`);
      const archive = readdirSync(target).find((f) => f.endsWith(format));
      rows.push({ hosts: n, run: i + 1, seconds, mb: n * mbPerHost, archiveMb: statSync(path.join(target, archive)).size / 2 ** 20 });
      if (n === hostsMax) lastSummary = r.stdout;
      rmSync(target, { recursive: true, force: true });
    }
  }

  console.log(`lsbackup over SSH: ${mbPerHost} MiB of random data per host, ${format}, ${cpus().length} CPU(s), Node ${process.version}`);
  console.log('hosts  run  data MiB  archive MiB  wall s  MiB/s');
  for (const r of rows) {
    console.log(
      `${String(r.hosts).padStart(5)}  ${String(r.run).padStart(3)}  ${String(r.mb).padStart(8)}  ${r.archiveMb.toFixed(1).padStart(11)}  ${r.seconds.toFixed(2).padStart(6)}  ${(r.mb / r.seconds).toFixed(1).padStart(5)}`,
    );
  }
  const best = (n) => Math.min(...rows.filter((r) => r.hosts === n).map((r) => r.seconds));
  console.log(
    `best wall time: 1 host ${best(1).toFixed(2)} s, ${hostsMax} hosts ${best(hostsMax).toFixed(2)} s (${(best(hostsMax) / best(1)).toFixed(2)}x the time for ${hostsMax}x the work)`,
  );
  console.log(`\nsummary of the last ${hostsMax}-host run:\n${lastSummary}`);
} finally {
  await fleet.stop();
  rmSync(dir, { recursive: true, force: true });
}
