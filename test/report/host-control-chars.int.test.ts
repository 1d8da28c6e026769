/**
 * What a host prints reaches the operator's terminal: a compromised or broken host must not be
 * able to send it escape sequences (recolour, move the cursor, retitle the window) or rewrite a
 * line with `\r`. The console and log lines show control characters written out (`\x1b`), tabs
 * and line breaks as they are; --json keeps them JSON-escaped, as any string. Through the built
 * CLI on a local host.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import path from 'node:path';
import { cliOutput, jsonEvent, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let args: string[];

// eslint-disable-next-line no-control-regex -- the raw control characters that must not be printed
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

beforeAll(async () => {
  ws = await workspace('lsb-control-chars-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/evil.yaml',
    recipeYaml('evil', `hosts: { group: app }\nbackup:\n  snapshot:\n    - name: dump\n      run: printf '\\033[31mred\\001 a\\tb\\rfake OK\\n' >&2; exit 4\n`),
  );
  args = ['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'out')];
});
afterAll(() => ws.cleanup());

it('a step stderr with escape sequences and control characters is shown escaped in the console, tabs kept', async () => {
  for (const level of [[], ['-v']]) {
    const r = await runCli([...args, ...level], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    const shown = r.stdout + r.stderr;
    expect(shown, `${level.join(' ')}: a raw control character`).not.toMatch(RAW_CONTROL);
    expect(r.stderr).toContain("snapshot step 'dump' FAILED: exit code 4: \\x1b[31mred\\x01 a\tb\\x0dfake OK");
    expect(r.stdout).toContain('\\x1b[31mred\\x01'); // the summary's note
    if (level.length) expect(r.stderr).toContain('      \\x1b[31mred\\x01 a\tb\\x0dfake OK'); // -v: the stderr tail
  }
});

it('--json carries the characters JSON-escaped, as it does any string', async () => {
  const r = await runCli([...args, '--json'], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
  expect(r.exitCode, cliOutput(r)).toBe(1);
  expect(r.stdout).not.toMatch(RAW_CONTROL);
  const step = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; error?: string })
    .find((e) => e.type === 'step.end');
  expect(step?.error).toBe('exit code 4: \x1b[31mred\x01 a\tb\rfake OK');
});

/** Bidirectional overrides and isolates, and zero-width characters: they make a line read other than it is. */
const RAW_INVISIBLE = /[\u202a-\u202e\u2066-\u2069\u200b\u200e\u200f\ufeff]/;

it('an error lsbackup prints (a host var from the inventory in it) shows escapes and bidi overrides written out; --json keeps them exact', async () => {
  // An Ansible value a host's admin wrote: it clears the screen, then turns the rest of the line round.
  await ws.write('bad-build/inventory', '[app]\nh1 ansible_host=127.0.0.1 ansible_port=\x1b[2J1\u202e22\n');
  const plan = ['plan', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'bad-build')];
  const r = await runCli(plan, { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
  expect(r.exitCode, cliOutput(r)).toBe(78);
  expect(r.stderr).not.toMatch(RAW_CONTROL);
  expect(r.stderr).not.toMatch(RAW_INVISIBLE);
  expect(r.stderr).toContain('lsbackup: Inventory is invalid:\n');
  expect(r.stderr).toContain("ansible_port '\\x1b[2J1\\u202e22' is not a TCP port");

  const j = await runCli([...plan, '--json'], { env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') } });
  expect(j.exitCode, cliOutput(j)).toBe(78);
  const error = jsonEvent<{ message: string }>(j.stdout, 'error');
  expect(error.message).toContain("ansible_port '\x1b[2J1\u202e22' is not a TCP port");
});

it("a step's stderr with a bidi override or a zero-width character shows them written out", async () => {
  await ws.write(
    'bidi-recipes/bidi.yaml',
    recipeYaml(
      'bidi',
      `hosts: { group: app }\nbackup:\n  snapshot:\n    - name: dump\n      run: printf 'saved /srv/evil\\342\\200\\256hs.txt\\342\\200\\213\\n' >&2; exit 4\n`,
    ),
  );
  const r = await runCli(['apply', path.join(ws.dir, 'bidi-recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'out'), '-v'], {
    env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') },
  });
  expect(r.exitCode, cliOutput(r)).toBe(1);
  expect(r.stdout + r.stderr).not.toMatch(RAW_INVISIBLE);
  expect(r.stderr).toContain('saved /srv/evil\\u202ehs.txt\\u200b');
});
