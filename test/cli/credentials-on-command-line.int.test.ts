// A credential written on lsbackup's own command line is readable by every local user (ps,
// /proc/<pid>/cmdline) for the whole run: the CLI refuses it before it reads the inventory or
// reaches a store, pointing at the way that keeps it off the command line, and never echoes it.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

// Nothing listens on port 1: a run that got past the check would fail connecting instead.
const NOWHERE = 'http://127.0.0.1:1';
const MARKER = 'cmdline-credential-3f9c2a';

describe('credentials on the command line', () => {
  it.each([
    ['s3://bucket/prod', 'secretAccessKey', ['--s3-endpoint', NOWHERE]],
    ['s3://bucket/prod', 'sessionToken', ['--s3-endpoint', NOWHERE]],
    ['azfile://account/share/prod', 'accountKey', ['--target-option', `endpoint=${NOWHERE}`]],
    ['azfile://account/share/prod', 'sasToken', ['--target-option', `endpoint=${NOWHERE}`]],
  ])('%s: --target-option %s=<value> is refused, naming --target-secret, the value never printed', async (uri, key, flags) => {
    const r = await runCli(['list', '-t', uri, ...flags, '--target-option', `${key}=${MARKER}`]);
    expect(r.exitCode, r.stderr).toBe(78);
    expect(r.stderr).toContain(`'${key}' is a credential: on the command line every local user can read it (ps)`);
    expect(r.stderr).toContain(`--target-secret ${key}=NAME`);
    expect(r.stdout + r.stderr).not.toContain(MARKER);
  });

  it('a credential by reference (--target-secret) and a plain option (--target-option) are taken as before', async () => {
    const r = await runCli(
      [
        'list',
        '-t',
        's3://bucket/prod',
        '--target-option',
        `endpoint=${NOWHERE}`,
        '--target-secret',
        'secretAccessKey=S3_SECRET',
        '--target-secret',
        'accessKeyId=S3_KEY',
      ],
      { env: { ...process.env, S3_SECRET: MARKER, S3_KEY: 'AKIAEXAMPLE' } as Record<string, string> },
    );
    // Past the check: the store is asked, and is not there.
    expect(r.stderr).toMatch(/ECONNREFUSED/);
    expect(r.stdout + r.stderr).not.toContain(MARKER);
  });
});
