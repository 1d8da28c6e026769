#!/usr/bin/env node
// Entry point of `npm run bench` / `npm run bench:quick`. The suite is TypeScript (it starts
// the sshd fleet from test/fleet/fleet.ts), so it runs through vite-node, which vitest brings;
// lsbackup itself is measured as the BUILT CLI (dist/), built here when missing (or --build).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

if (!existsSync(join(repo, 'dist/cli/lsbackup.js')) || process.argv.includes('--build')) {
  const status = spawnSync('npm', ['run', 'build'], { cwd: repo, stdio: 'inherit' }).status ?? 1;
  if (status !== 0) process.exit(status);
}
const suite = spawn(join(repo, 'node_modules/.bin/vite-node'), [join(repo, 'bench/main.ts'), '--', ...process.argv.slice(2)], { cwd: repo, stdio: 'inherit' });
// Pass a stop on to the suite, which then stops its sshd fleet by PID.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => suite.kill(signal));
suite.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
