/**
 * CI check of the benchmark suite: `node bench/run.mjs --quick` runs every benchmark once on
 * tiny data against the real sshd fleet (and ansible-playbook) and fails if any run fails.
 * Figures from this mode mean nothing; `npm run bench` measures.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const repo = join(import.meta.dirname, '../..');

test('every benchmark runs on tiny data (bench --quick)', async () => {
  // Asynchronous: a synchronous child blocks the worker, whose reports to vitest then time out.
  // The suite stops its fleet itself (finally); the timeout only ends a hang.
  const result = await execa(process.execPath, [join(repo, 'bench/run.mjs'), '--quick'], { cwd: repo, reject: false, all: true, timeout: 1_500_000 });
  const output = String(result.all);
  expect(result.exitCode, output.slice(-4000)).toBe(0);
  expect(output).toContain('| target |');
  expect(output).toMatch(/\| catalog \| catalog: lsbackup list \(3 backups\)/);
  // The incremental group ran (restic and borg installed), or said why it could not (no network namespaces).
  expect(output).toMatch(/### incremental: lsbackup --incremental vs restic|incremental: SKIPPED, network namespaces/);
}, 1_600_000);
