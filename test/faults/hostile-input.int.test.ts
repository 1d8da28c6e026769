/**
 * Hostile or mistaken input files and flags: every one is a clear error at file:line:col with the
 * usage (64) or config (78) exit code, never "unexpected error" with a stack, and nothing runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;

/** Nine levels of nine aliases: ~387 million strings once expanded (the "billion laughs" shape). */
const aliasBomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat(['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`))
  .join('\n');

const APP_RECIPE = recipeYaml(
  'app',
  'hosts: { group: all }\nvars: { greeting: hello }\nbackup:\n  snapshot:\n    - run: echo {{vars.greeting}}\n      output: greeting.txt\n',
);

function expectCleanError(r: { exitCode: number; stdout: string; stderr: string }, exitCode: number, ...needles: (string | RegExp)[]): void {
  expect(r.exitCode, cliOutput(r)).toBe(exitCode);
  expect(r.stderr, cliOutput(r)).not.toMatch(/unexpected error|\n\s+at /);
  for (const n of needles) expect(r.stderr + r.stdout, cliOutput(r)).toMatch(n);
}

beforeAll(async () => {
  ws = await workspace('lsb-hostile-');
  await ws.write('build/inventory', '[all]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', APP_RECIPE);
});
afterAll(() => ws.cleanup());

describe('YAML alias bombs ("billion laughs")', () => {
  it('in a recipe: exit 78 at the first alias, nothing run', async () => {
    const file = await ws.write('bomb-recipe/r.yaml', `apiVersion: lsbackup/v1\n${aliasBomb}\n`);
    const r = await runCli(['validate', file]);
    expectCleanError(r, 78, `${file}:3:8`, /billion laughs/);
  });

  it('in the config file: exit 78 at file:line:col', async () => {
    const file = await ws.write('bomb-config.yaml', `${aliasBomb}\n`);
    const r = await runCli(['config', 'validate', '-c', file]);
    expectCleanError(r, 78, `${file}:2:8`);
  });

  it('in a YAML inventory and in group_vars: exit 78 naming the file once', async () => {
    const inv = await ws.write(
      'bomb-inv/inventory.yml',
      `all:\n  hosts:\n    localhost: { ansible_connection: local }\n  vars:\n${aliasBomb
        .split('\n')
        .map((l) => '    ' + l)
        .join('\n')}\n`,
    );
    const r1 = await runCli(['plan', ws.dir + '/recipes', '-b', inv]);
    expectCleanError(r1, 78, `${inv}:6:12`);

    await ws.write('bomb-gv/inventory', '[all]\nlocalhost ansible_connection=local\n');
    const gv = await ws.write('bomb-gv/group_vars/all.yml', `${aliasBomb}\n`);
    const r2 = await runCli(['plan', ws.dir + '/recipes', '-b', ws.dir + '/bomb-gv']);
    expectCleanError(r2, 78, `${gv}:2:8`);
    expect(r2.stderr.split(`${gv}:2:8`).length - 1, cliOutput(r2)).toBe(1);
  });
});

describe('oversized input files', () => {
  it('a recipe over 1 MiB is refused before it is parsed (the same limit restore applies to the carried copy)', async () => {
    const file = await ws.write('big-recipe/r.yaml', APP_RECIPE + `# ${'x'.repeat(1024 * 1024)}\n`);
    const r = await runCli(['validate', file]);
    expectCleanError(r, 78, file, /recipe files are limited to 1 MiB/);
  });

  it('a config over 4 MiB and an inventory over 16 MiB are refused', async () => {
    const config = await ws.write('big.config.yaml', `cluster: big\n# ${'x'.repeat(4 * 1024 * 1024)}\n`);
    expectCleanError(await runCli(['config', 'validate', '-c', config]), 78, config, /config files are limited to 4 MiB/);
    const inv = await ws.write('big-inv/inventory', `[all]\nlocalhost ansible_connection=local\n# ${'x'.repeat(16 * 1024 * 1024)}\n`);
    expectCleanError(await runCli(['plan', ws.dir + '/recipes', '-b', inv]), 78, inv, /inventory files are limited to 16 MiB/);
  });
});

describe('user-chosen keys never reach builtins', () => {
  it('--var constructor.keys=1 is a usage error, not a replaced Object.keys', async () => {
    const r = await runCli(['plan', ws.dir + '/recipes', '-b', ws.dir + '/build', '--var', 'constructor.keys=1']);
    expectCleanError(r, 64, /--var constructor\.keys: no recipe named 'constructor'/);
  });

  it("a recipe var named toString renders its own value, not the builtin's source", async () => {
    await ws.write(
      'proto-recipes/p.yaml',
      recipeYaml(
        'proto',
        'hosts: { group: all }\nvars: { toString: fine, constructor: also-fine }\nbackup:\n  snapshot:\n    - run: echo {{vars.toString}} {{vars.constructor}}\n      output: o.txt\n',
      ),
    );
    const r = await runCli(['plan', ws.dir + '/proto-recipes', '-b', ws.dir + '/build']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toContain('echo fine also-fine');
    expect(r.stdout).not.toContain('native code');
  });

  it('an inventory var named like a builtin is an ordinary var', async () => {
    await ws.write('proto-build/inventory', '[all]\nlocalhost ansible_connection=local toString=from-inventory\n');
    const r = await runCli(['plan', ws.dir + '/proto-recipes', '-b', ws.dir + '/proto-build']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toContain('echo from-inventory also-fine');
  });
});

describe('var overrides that name nothing are errors, with a did-you-mean', () => {
  it('a misspelled var name: exit 64', async () => {
    const r = await runCli(['plan', ws.dir + '/recipes', '-b', ws.dir + '/build', '--var', 'app.greting=hi']);
    expectCleanError(r, 64, /recipe 'app' has no var 'greting' \(did you mean 'greeting'\?\)/);
  });

  it('a misspelled component: exit 64', async () => {
    const r = await runCli(['plan', ws.dir + '/recipes', '-b', ws.dir + '/build', '--var', 'ap.greeting=hi']);
    expectCleanError(r, 64, /no recipe named 'ap' is loaded \(did you mean 'app'\?\)/);
  });

  it('a misspelled var in the config: exit 78 at the file:line:col of its key', async () => {
    const config = await ws.write('typo.config.yaml', `build: build\nrecipes: [recipes]\ncomponents:\n  vars:\n    app: { greetng: hi }\n`);
    const r = await runCli(['plan', '-c', config]);
    expectCleanError(r, 78, `${config}:5:12: components.vars.app.greetng: recipe 'app' has no var 'greetng' (did you mean 'greeting'?)`);
  });

  it('a correct override still applies', async () => {
    const r = await runCli(['plan', ws.dir + '/recipes', '-b', ws.dir + '/build', '--var', 'app.greeting=hi']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toContain('echo hi');
  });
});
