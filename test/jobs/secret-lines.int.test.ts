/**
 * Secrets whose values hold line breaks, as real sources give them: a Kubernetes Secret made
 * with --from-file or a systemd credential (a trailing newline), a file written on Windows
 * (CRLF), a secrets-file YAML block scalar (several lines). Commands get the value as it is, and
 * output is cut into lines, so no printed line holds the whole value: each line of it must be
 * masked on its own. Through the built CLI, `run` with a local host, a webhook, a ping and a
 * report; every place a secret could be printed or stored is searched.
 * And a secret too short to be masked is warned about by name, never shown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { startRecorder } from '../notify/recorder.js';

const SECRETS = {
  NL_PW: 'Hunter2-Sekr3t\n',
  CRLF_PW: 'Crlf-Passw0rd\r\n',
  TWO_LINE_PW: 'first-line-Alpha\nsecond-line-Beta\n',
};
/** What must never be printed: every line of every value. */
const LINES = ['Hunter2-Sekr3t', 'Crlf-Passw0rd', 'first-line-Alpha', 'second-line-Beta'];

let ws: Awaited<ReturnType<typeof workspace>>;
let hooks: Awaited<ReturnType<typeof startRecorder>>;

beforeAll(async () => {
  ws = await workspace('lsb-secret-lines-');
  hooks = await startRecorder();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  // Each step echoes its secret to stderr and fails; the first two go on (their failure is a
  // warning), the last fails the component. `ok` succeeds, so the (partial) backup is stored.
  const leak = (name: string) => `echo "pw is {{secret "${name}"}}" >&2; exit 4`;
  await ws.write(
    'recipes/db.yaml',
    recipeYaml(
      'db',
      `hosts: { group: app }
backup:
  snapshot:
    - name: crlf
      run: '${leak('CRLF_PW')}'
      onError: continue
    - name: two-lines
      run: '${leak('TWO_LINE_PW')}'
      onError: continue
    - name: dump
      run: '${leak('NL_PW')}'
`,
    ),
  );
  await ws.write('recipes/ok.yaml', recipeYaml('ok', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo fine\n      output: fine.txt\n'));
  await ws.write(
    'lsbackup.config.yaml',
    `cluster: testc
build: ./build
recipes: [./recipes]
targets: [./backups]
notifications:
  - { type: webhook, url: "${hooks.url}/hook" }
  - { type: ping, url: "${hooks.url}/ping/check-uuid" }
`,
  );
}, 60_000);
afterAll(async () => {
  await hooks?.close();
  await ws?.cleanup();
});

const env = () => ({ ...SECRETS, XDG_CACHE_HOME: path.join(ws.dir, 'cache') });

function expectClean(label: string, text: string): void {
  for (const line of LINES) expect(text.includes(line), `${label} shows ${line}`).toBe(false);
}

describe('a secret with line breaks', () => {
  it('is masked line by line on the console (-v), in --json, the report, the notifications, the sidecar and the archive', async () => {
    const plain = await runCli(['run', '-v', '--report', 'report.json'], { cwd: ws.dir, env: env() });
    expect(plain.exitCode, cliOutput(plain)).toBe(2);
    // The step's stderr is still reported, its secret masked: the command did get the value.
    expect(plain.stderr).toContain("snapshot step 'dump' FAILED: exit code 4: pw is ***");
    expect(plain.stderr).toContain("snapshot step 'two-lines': exit code 4: pw is *** | ***");
    const json = await runCli(['run', '--json'], { cwd: ws.dir, env: env() });
    expect(json.exitCode, cliOutput(json)).toBe(2);
    expect(json.stdout).toContain('pw is ***');

    const outputs: [string, string][] = [
      ['run -v', plain.stdout + plain.stderr],
      ['run --json', json.stdout + json.stderr],
      ['report.json', await readFile(path.join(ws.dir, 'report.json'), 'utf8')],
    ];
    expect(hooks.received.filter((h) => h.path === '/hook').length).toBe(4); // start and partial, twice
    expect(hooks.received.filter((h) => h.path === '/ping/check-uuid/fail').length).toBe(2);
    for (const h of hooks.received) outputs.push([`${h.path} body`, h.body]);
    const archives = (await readdir(path.join(ws.dir, 'backups'))).filter((n) => n.endsWith('.tar.gz'));
    expect(archives.length).toBe(2);
    for (const name of archives) {
      outputs.push([`${name}.metadata.json`, await readFile(path.join(ws.dir, 'backups', `${name}.metadata.json`), 'utf8')]);
      const tar = await execa('sh', ['-c', `gzip -dc < '${path.join(ws.dir, 'backups', name)}'`], { encoding: 'latin1' });
      outputs.push([`${name} (decompressed)`, String(tar.stdout)]);
    }
    for (const [label, text] of outputs) expectClean(label, text);
  });
});

describe('a secret too short to be masked', () => {
  it('is warned about once, by name, without its value', async () => {
    await ws.write(
      'short/short.yaml',
      recipeYaml('short', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: printf %s {{secret "PIN"}} | wc -c\n      output: n.txt\n'),
    );
    const args = ['apply', path.join(ws.dir, 'short'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'short-out')];
    const r = await runCli(args, { env: { PIN: 'Q7z', XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes("secret 'PIN'"));
    expect(warnings).toEqual([expect.stringMatching(/^warning: secret 'PIN' .*shorter than 4 characters, too short to be masked/)]);
    expect(warnings[0]).not.toContain('Q7z');

    const json = await runCli([...args, '--json'], { env: { PIN: 'Q7z', XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
    expect(json.exitCode, cliOutput(json)).toBe(0);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; message?: string });
    expect(events.filter((e) => e.type === 'warning' && e.message?.includes("secret 'PIN'"))).toHaveLength(1);

    // A value long enough, and a line break after it, is no reason to warn.
    const long = await runCli(args, { env: { PIN: 'Q7z-long\n', XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
    expect(long.exitCode, cliOutput(long)).toBe(0);
    expect(long.stderr).not.toContain("secret 'PIN'");
  });

  it('is warned about whatever setting holds it: a notification header, an inventory password, a target key', async () => {
    const short = /shorter than 4 characters, too short to be masked/;
    await ws.write('short-creds/inventory', '[app]\nlocalhost ansible_connection=local ansible_password=pw1\n');
    await ws.write(
      'short-creds/lsbackup.config.yaml',
      `cluster: shortc
build: ./inventory
recipes: [../recipes]
components: { only: [ok] }
targets: [./backups]
notifications:
  - type: webhook
    url: "${hooks.url}/short-hook"
    headers: { X-Token: "Zq9" }
`,
    );
    const r = await runCli(['run'], { cwd: path.join(ws.dir, 'short-creds'), env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => short.test(l));
    expect(warnings).toEqual([
      expect.stringMatching(/warning: notification webhook http:\/\/127\.0\.0\.1:\d+\/… headers\.X-Token \(or a line of it\) is shorter/),
      expect.stringMatching(/warning: inventory host 'localhost' ansible_password \(or a line of it\) is shorter/),
    ]);
    for (const w of warnings) expect(w).not.toMatch(/Zq9|pw1/);

    // A target's key, in the catalog commands too (warned before the store is reached; this one answers no S3).
    await ws.write(
      'short-creds/s3.yaml',
      `targets:
  - uri: s3://bucket/prod
    options: { endpoint: "${hooks.url}", forcePathStyle: true, region: us-east-1, accessKeyId: AKIDLONGENOUGH, secretAccessKey: { secret: S3_KEY } }
secrets: { sources: [{ type: env }] }
`,
    );
    const list = await runCli(['list', '-c', path.join(ws.dir, 'short-creds/s3.yaml')], { env: { ...env(), S3_KEY: 'k9' } });
    const keyWarnings = list.stderr.split('\n').filter((l) => short.test(l));
    expect(keyWarnings, cliOutput(list)).toEqual([
      "warning: target s3://bucket/prod option 'secretAccessKey' (secret 'S3_KEY') (or a line of it) is shorter than 4 characters, too short to be masked: wherever it is printed, it shows in clear; use a longer value",
    ]);
  });
});
