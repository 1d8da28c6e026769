/**
 * Secret hygiene, end to end through the built CLI on a real sshd fleet: a marker secret is
 * planted in every channel a secret can come from (env, secrets file and command sources;
 * ansible_password / ansible_become_password in the inventory) and used in recipe `env` and
 * `run`, by a failing step whose stderr echoes it, then every output is grepped for it: plan
 * (text and --json), apply (plain and --json, success and failure), the metadata sidecar, the
 * whole decompressed archive including metadata.json, and a `ps` snapshot taken while a step
 * that holds the secrets in its environment is running on the remote host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { recipeYaml, runCli, spawnCli, workspace } from '../helpers/cli.js';
import { waitFor } from './support.js';

// Quotes, spaces and '$' so the shell-quoted and JSON-escaped forms differ from the raw one.
const SECRETS = {
  S_ENV: `mk-env-'q"d $HOME x1`,
  S_FILE: `mk-file-'q"d x2`,
  S_CMD: `mk-cmd-'q"d $x3`,
  PASSWORD: 'mk-ansible-password-x4',
  BECOME: 'mk-become-password-x5',
};
const ALL = Object.values(SECRETS);

let fleet: Fleet;
let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let target: string;
let recipes: string;
let config: string;
const env = { LSB_MARK_ENV: SECRETS.S_ENV };

beforeAll(async () => {
  fleet = await startFleet({ hosts: 1 });
  ws = await workspace('lsb-faults-secrets-');
  build = path.join(ws.dir, 'build');
  target = path.join(ws.dir, 'backups');
  recipes = path.join(ws.dir, 'recipes');
  fleet.writeInventory(build, { host1: ['app'] });
  // Connection passwords in the inventory are secrets too (key auth is what actually logs in;
  // sudo is NOPASSWD, so the become password is sent and discarded by the remote reader).
  await appendFile(path.join(build, 'inventory'), `ansible_password=${SECRETS.PASSWORD}\nansible_become_password=${SECRETS.BECOME}\n`);
  const secretsFile = await ws.write('secrets.yaml', `S_FILE: ${JSON.stringify(SECRETS.S_FILE)}\n`);
  await chmod(secretsFile, 0o600);
  config = await ws.write(
    'lsbackup.config.yaml',
    [
      'secrets:',
      '  sources:',
      '    - type: env',
      '      mapping: { S_ENV: LSB_MARK_ENV }',
      '    - type: file',
      `      path: ${secretsFile}`,
      '    - type: command',
      // The source appends the secret's name as the last argument: "$0" ignores it.
      `      command: [sh, -c, 'printf %s "$0"', ${JSON.stringify(SECRETS.S_CMD)}]`,
      '',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await ws?.cleanup();
});

/** Every marker, in every way it could be printed, must be absent. */
function expectClean(label: string, text: string): void {
  for (const secret of ALL) {
    for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) {
      expect(text.includes(form), `${label} contains the secret ${form}`).toBe(false);
    }
  }
}

function writeRecipe(ready: string, failStep: boolean): Promise<string> {
  return ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app, run: all }
detect: "true"
backup:
  pre:
    - name: hold the secrets while ps looks
      become: true
      env:
        S1: '{{secret "S_ENV"}}'
        S2: '{{secret "S_FILE"}}'
        S3: '{{secret "S_CMD"}}'
      # The last test uses a secret inline: it must not reach the command line either.
      run: touch ${ready} && chmod 666 ${ready}; sleep 4; test -n "$S1" && test -n "$S2" && test -n "$S3" && test -n {{secret "S_CMD"}}
  snapshot:
    - name: secrets reach the command intact
      env:
        S1: '{{secret "S_ENV"}}'
        S3: '{{secret "S_CMD"}}'
      run: printf '%s|%s|%s' "$S1" {{secret "S_FILE"}} "$S3" | sha256sum
      output: digest.txt
    - name: a failing step that echoes a secret
      env:
        S2: '{{secret "S_FILE"}}'
      run: echo "leaking $S2 and" {{secret "S_ENV"}} >&2; exit 3
      onError: ${failStep ? 'fail' : 'continue'}
`,
    ),
  );
}

describe('a secret planted in every channel', () => {
  it('never appears in plan, apply output, --json events, metadata, the archive or ps', async () => {
    const ready = path.join(ws.dir, 'step-running');
    await writeRecipe(ready, false);
    const opts = { env, cwd: ws.dir, timeoutMs: 180_000 };
    const planText = await runCli(['plan', recipes, '-b', build, '-c', config], opts);
    expect(planText.exitCode).toBe(0);
    // Commands get secrets by environment reference: the plan shows the reference, never the value.
    expect(planText.stdout).toContain('"$LSB_SECRET_S_FILE"');
    const planJson = await runCli(['plan', recipes, '-b', build, '-c', config, '--json'], opts);
    expect(planJson.exitCode).toBe(0);

    // Apply, with a ps snapshot of the whole machine (the remote host is a local sshd) while
    // the become step holding all three env secrets is running.
    const child = spawnCli(['apply', recipes, '-b', build, '-c', config, '-t', target], { env, cwd: ws.dir });
    let ps = '';
    try {
      await waitFor(() => existsSync(ready), 90_000, 'the pre step to start');
      ps = (await execa('ps', ['-eww', '-o', 'pid=,args='])).stdout;
    } finally {
      if (!ps) child.kill('SIGKILL');
    }
    const plain = await child;
    expect(ps).toContain('sleep 4'); // the snapshot really caught the step
    expectClean('ps', ps);
    expect(plain.exitCode, String(plain.stderr)).toBe(0);

    const json = await runCli(['apply', recipes, '-b', build, '-c', config, '-t', target, '--json'], opts);
    expect(json.exitCode, json.stderr).toBe(0);
    expect(json.stdout).toContain('leaking ***'); // the failing step's stderr is reported, masked

    // The same run failing on that step: the error message and run report are masked too.
    await writeRecipe(ready, true);
    const failed = await runCli(['apply', recipes, '-b', build, '-c', config, '-t', target], opts);
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toContain('leaking ***');

    const outputs: [string, string][] = [
      ['plan', planText.stdout + planText.stderr],
      ['plan --json', planJson.stdout + planJson.stderr],
      ['apply', String(plain.stdout) + String(plain.stderr)],
      ['apply --json', json.stdout + json.stderr],
      ['failed apply', failed.stdout + failed.stderr],
    ];
    const names = (await readdir(target)).filter((n) => n.endsWith('.tar.gz'));
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const name of names) {
      outputs.push([`${name}.metadata.json`, await readFile(path.join(target, `${name}.metadata.json`), 'utf8')]);
      // The whole archive, decompressed: entry names, recipe copies, data and metadata.json.
      const tar = await execa('sh', ['-c', `gzip -dc < '${path.join(target, name)}'`], { encoding: 'latin1' });
      outputs.push([`${name} (decompressed)`, String(tar.stdout)]);
    }
    for (const [label, text] of outputs) expectClean(label, text);

    // The secrets did reach the command, intact (quotes, spaces and '$' survive).
    const digest = await execa('tar', ['xzOf', path.join(target, names[0]!), 'app/host1/digest.txt']);
    const want = createHash('sha256').update(`${SECRETS.S_ENV}|${SECRETS.S_FILE}|${SECRETS.S_CMD}`).digest('hex');
    expect(digest.stdout.split(/\s/)[0]).toBe(want);
  }, 300_000);
});
