/**
 * CI check of the benchmark suite: `node bench/run.mjs --quick` runs every benchmark once on
 * tiny data against the real sshd fleet (and ansible-playbook) and fails if any run fails.
 * Figures from this mode mean nothing; `npm run bench` measures.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const repo = join(import.meta.dirname, '../..');

test('every benchmark runs on tiny data (bench --quick)', () => {
  // The suite stops its fleet itself (finally); spawnSync's timeout kills only on a hang.
  const result = spawnSync(process.execPath, [join(repo, 'bench/run.mjs'), '--quick'], { cwd: repo, encoding: 'utf8', timeout: 280_000 });
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.status, output.slice(-4000)).toBe(0);
  expect(output).toContain('| target |');
}, 300_000);
