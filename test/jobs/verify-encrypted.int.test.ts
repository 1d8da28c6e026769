/**
 * A job with `verify: true` whose backups are age-encrypted, through the built CLI. Without an
 * identity to open them, verify can check only a copy's stored digest, not its entries against
 * metadata.json: the run said success with `verify: {ok: true}` and not a word, and `config
 * validate` said the config was fine. Now both say what was not checked and how to have it checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';
import type { RunReport } from '../../engine/jobs/report.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let recipient: string;
const env = () => ({ XDG_CACHE_HOME: path.join(ws.dir, 'cache') });
const OPEN_THEM = '(set encryption.identityFile to an age identity that opens the backups)';

beforeAll(async () => {
  ws = await workspace('lsb-verify-encrypted-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', recipeYaml('app', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hello\n      output: hello.txt\n'));
  const identity = await generateIdentity();
  recipient = await identityToRecipient(identity);
  await ws.write('key.txt', `${identity}\n`);
});
afterAll(async () => ws?.cleanup());

const config = (encryption: string) =>
  ws.write(
    'lsbackup.config.yaml',
    `apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\ntargets: [./backups]\n` +
      `encryption: { ${encryption} }\njobs:\n  nightly:\n    verify: true\n`,
  );

/** The run's report (the `job.end` event of --json). */
async function run(): Promise<RunReport> {
  const r = await runCli(['run', '--json'], { cwd: ws.dir, env: env() });
  expect(r.exitCode, cliOutput(r)).toBe(0);
  const end = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; report?: RunReport })
    .find((e) => e.type === 'job.end');
  return end!.report!;
}

describe('verify: true on encrypted backups', () => {
  it('without an identity: config validate and the run say only the digest is checked, and how to have the entries checked', async () => {
    await config(`recipients: [${recipient}]`);
    const validate = await runCli(['config', 'validate'], { cwd: ws.dir, env: env() });
    expect(validate.exitCode, cliOutput(validate)).toBe(0);
    expect(validate.stderr).toContain(
      `warning: job 'nightly' sets verify: true, but its backups are encrypted and the config sets no encryption.identityFile: verify can check only their stored digest, not their entries against metadata.json ${OPEN_THEM}`,
    );

    const report = await run();
    expect(report.status).toBe('success');
    expect(report.targets).toEqual([expect.objectContaining({ verify: { ok: true } })]);
    expect(report.warnings).toEqual([
      `verify after the backup checked only the stored digest of ${report.archive} in ${path.join(ws.dir, 'backups')}: it is encrypted and the config sets no encryption.identityFile, so its entries were not checked against metadata.json ${OPEN_THEM}`,
    ]);
  }, 120_000);

  it('with encryption.identityFile: every entry is checked, nothing to warn about', async () => {
    await config(`recipients: [${recipient}], identityFile: ./key.txt`);
    const validate = await runCli(['config', 'validate'], { cwd: ws.dir, env: env() });
    expect(validate.stderr).not.toContain('warning');
    const report = await run();
    expect(report.targets).toEqual([expect.objectContaining({ verify: { ok: true } })]);
    expect(report.warnings).toEqual([]);
  }, 120_000);
});
