// A credential written on lsbackup's own command line is readable by every local user (ps,
// /proc/<pid>/cmdline) for the whole run: the CLI refuses it before it reads the inventory or
// reaches a store, pointing at the way that keeps it off the command line, and never echoes it.
import { describe, expect, it } from 'vitest';
import { runCli, workspace } from '../helpers/cli.js';

// Nothing listens on port 1: a run that got past the check would fail connecting instead.
const NOWHERE = 'http://127.0.0.1:1';
const MARKER = 'cmdline-credential-3f9c2a';

/** `lsbackup list -c <config>` with the config `name` holding `text`, written in a workspace of its own. */
async function listWithConfig(name: string, text: string) {
  const ws = await workspace();
  try {
    return await runCli(['list', '-c', await ws.write(name, text)]);
  } finally {
    await ws.cleanup();
  }
}

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

  it.each([
    [`s3://AKIAEXAMPLE:${MARKER}@bucket/prod`, 's3://***@bucket/prod'],
    [`azfile://account/share/prod?sv=2022-11-02&ss=f&sig=${MARKER}`, 'azfile://account/share/prod?***'],
  ])('-t %s (credentials in the URI) is refused, the URI shown as %s', async (uri, masked) => {
    const flag = await runCli(['list', '-t', uri, '--s3-endpoint', NOWHERE]);
    const fromEnv = await runCli(['list', '--s3-endpoint', NOWHERE], { env: { ...process.env, LSBACKUP_TARGET: uri } as Record<string, string> });
    for (const r of [flag, fromEnv]) {
      expect(r.exitCode, r.stderr).toBe(78);
      expect(r.stderr).toContain(`${masked} carries credentials in the URI`);
      expect(r.stderr).toContain('--target-secret KEY=NAME');
      expect(r.stdout + r.stderr).not.toContain(MARKER);
    }
  });

  it("a config target's URI with credentials is refused at its file:line:col", async () => {
    const r = await listWithConfig('creds.config.yaml', `targets:\n  - uri: s3://AKIAEXAMPLE:${MARKER}@bucket/prod\n    options: { endpoint: ${NOWHERE} }\n`);
    expect(r.exitCode, r.stderr).toBe(78);
    expect(r.stderr).toContain("creds.config.yaml:2:10: 'targets[0].uri' s3://***@bucket/prod carries credentials in the URI");
    expect(r.stdout + r.stderr).not.toContain(MARKER);
  });

  it('the same URI with credentials listed twice in a config: each refused masked, the duplicate never printed whole', async () => {
    const uri = `s3://AKIAEXAMPLE:${MARKER}@bucket/prod`;
    const r = await listWithConfig('twice.config.yaml', `targets:\n  - ${uri}\n  - ${uri}\n`);
    expect(r.exitCode, r.stderr).toBe(78);
    expect(r.stderr).toContain("twice.config.yaml:3:5: 'targets[1]' s3://***@bucket/prod carries credentials in the URI");
    expect(r.stdout + r.stderr).not.toContain(MARKER);
  });

  it('a --target-option without = (secretAccessKey:<value>) is named by its key only', async () => {
    const r = await runCli(['list', '-t', 's3://bucket/prod', '--s3-endpoint', NOWHERE, '--target-option', `secretAccessKey:${MARKER}`]);
    expect(r.exitCode, r.stderr).not.toBe(0);
    expect(r.stderr).toContain("'secretAccessKey…' is not of the form key=value");
    expect(r.stdout + r.stderr).not.toContain(MARKER);
  });
});
