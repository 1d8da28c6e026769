/**
 * The alert rules in deploy/monitoring/ are valid and fire: promtool (Debian's prometheus
 * package, test/infra/apt-packages.txt) checks them and runs their unit test file, whose cases
 * expect each alert to fire (and not to fire) on the series lsbackup writes.
 */
import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

const dir = path.join(repoRoot, 'deploy/monitoring');

describe('deploy/monitoring alert rules', () => {
  it('pass promtool check rules', async () => {
    const r = await execa('promtool', ['check', 'rules', 'lsbackup.rules.yml'], { cwd: dir, reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: 5 rules found/);
  });

  it('fire in promtool test rules: no success for 26 h, never succeeded, last run failed or partial, size dropped by more than 30%', async () => {
    const r = await execa('promtool', ['test', 'rules', 'lsbackup.rules.test.yml'], { cwd: dir, reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS/);
  });
});
