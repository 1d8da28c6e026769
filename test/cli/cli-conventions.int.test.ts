/**
 * The command-line conventions SREs expect from restic or borgmatic, through the built CLI:
 * -q/-v, LSBACKUP_CONFIG / LSBACKUP_TARGET and config discovery, shell completion, examples in
 * every --help, "did you mean", `list` on a missing directory, $schema modelines that resolve.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, cliPath, recipeYaml, repoRoot, runCli, workspace, jsonEvent } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-cliconv-');
});
afterEach(async () => ws.cleanup());

/** The CLI with a clean view of the variables under test (the test runner's own must not leak in). */
const env = (extra: Record<string, string> = {}) => ({ LSBACKUP_CONFIG: '', LSBACKUP_TARGET: '', XDG_CONFIG_HOME: path.join(ws.dir, 'xdg'), ...extra });

describe('quiet and verbose', () => {
  const recipe = recipeYaml(
    'app',
    `hosts: { group: app, run: all }
backup:
  pre:
    - run: echo pre-said-hello; echo pre-warned-on-stderr >&2
  snapshot:
    - run: printf 'dump-body-%s' $((40 + 2)); echo dump-warned-on-stderr >&2
      output: dump.txt
`,
  );
  const apply = async (...flags: string[]) => {
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    await ws.write('recipes/app.yaml', recipe);
    return runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', path.join(ws.dir, 'backups'), ...flags], { env: env() });
  };

  it("--verbose shows each step's stdout and stderr tails, a successful step's warnings included", async () => {
    const r = await apply('-v');
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stderr).toMatch(/pre step '.*' success\n\s+stdout:\n\s+pre-said-hello\n\s+stderr:\n\s+pre-warned-on-stderr/);
    expect(r.stderr).toContain('dump-warned-on-stderr');
    // The archived output is data, not a log line.
    expect(r.stderr).not.toContain('dump-body-42');
  }, 120_000);

  it('without -v those lines stay out; the run still reports its steps', async () => {
    const r = await apply();
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stderr).toContain('app @ localhost: success');
    expect(r.stderr).not.toContain('pre-warned-on-stderr');
  }, 120_000);

  it('--quiet prints nothing for a run that succeeded (before or after the command name)', async () => {
    for (const r of [await apply('-q'), await runCli(['-q', 'list', '-t', path.join(ws.dir, 'backups')], { env: env() })]) {
      expect(r.exitCode, cliOutput(r)).toBe(0);
    }
    const r = await apply('--quiet');
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
  }, 120_000);

  it('--quiet still prints a failure', async () => {
    await ws.write('recipes/bad.yaml', recipeYaml('bad', `hosts: { group: app }\nbackup:\n  pre:\n    - run: echo "disk on fire" >&2; exit 3\n`));
    const r = await apply('-q');
    expect(r.exitCode, cliOutput(r)).toBe(2);
    expect(r.stderr).toContain('disk on fire');
    expect(r.stderr).not.toContain('app @ localhost: success');
  }, 120_000);

  it('-q and -v together are a usage error', async () => {
    const r = await runCli(['list', '-q', '-v', '-t', ws.dir], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(64);
    expect(r.stderr).toContain("option '-q, --quiet' cannot be used with option '-v, --verbose'");
  }, 60_000);
});

describe('quiet on the commands that print a result (restore, verify, get, prune)', () => {
  const setUp = async () => {
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    await ws.write('data/app.conf', 'setting=1\n');
    const data = path.join(ws.dir, 'data');
    await ws.write(
      'recipes/app.yaml',
      recipeYaml('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${data}\nrestore:\n  apply:\n    - files: ${data}\n`),
    );
    const backups = path.join(ws.dir, 'backups');
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', backups, '-q'], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    return { backups, restore: ['restore', 'latest', '-t', backups, '-b', path.join(ws.dir, 'build'), '--recipes', path.join(ws.dir, 'recipes')] };
  };

  it('-q prints nothing for a restore --yes, a verify, a get and a prune that succeeded; a dry run still shows what it would do', async () => {
    const { backups, restore } = await setUp();
    for (const args of [
      [...restore, '--yes'],
      ['verify', 'latest', '-t', backups],
      ['get', 'latest', path.join(ws.dir, 'got.tar.gz'), '-t', backups],
      ['prune', '-t', backups, '--keep-last', '1'],
      ['prune', '-t', backups, '--leftovers'],
    ]) {
      const r = await runCli([...args, '-q'], { env: env() });
      expect(r.exitCode, cliOutput(r)).toBe(0);
      expect(r.stdout + r.stderr, args.join(' ')).toBe('');
    }
    expect(existsSync(path.join(ws.dir, 'got.tar.gz'))).toBe(true);
    const dry = await runCli([...restore, '--dry-run', '-q'], { env: env() });
    expect(dry.stdout, cliOutput(dry)).toContain('Dry run: the checks above passed');
    const prune = await runCli(['prune', '-t', backups, '--keep-last', '1', '--dry-run', '-q'], { env: env() });
    expect(prune.stdout, cliOutput(prune)).toContain('(dry run: nothing was deleted)');
    // Without -q the results are there.
    const verify = await runCli(['verify', 'latest', '-t', backups], { env: env() });
    expect(verify.stdout, cliOutput(verify)).toMatch(/: OK\n/);
  }, 180_000);

  it('-q still prints a verify that found damage', async () => {
    const { backups } = await setUp();
    const [archive] = (await readdir(backups)).filter((n) => n.endsWith('.tar.gz'));
    const file = path.join(backups, archive!);
    const bytes = await readFile(file);
    bytes[bytes.length - 40] ^= 0xff;
    await writeFile(file, bytes);
    const r = await runCli(['verify', 'latest', '-t', backups, '-q'], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stdout).toContain('FAILED');
    expect(r.stdout).toContain('DOES NOT MATCH the .sha256 sidecar');
  }, 180_000);

  it('-q without --yes at a terminal still shows the plan the prompt asks about', async () => {
    const { restore } = await setUp();
    // A terminal of its own (util-linux script), answering no.
    const command = [process.execPath, cliPath, ...restore, '-q'].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const r = await execa('script', ['-qec', command, '/dev/null'], { input: 'n\n', reject: false, env: env(), timeout: 120_000 });
    expect(r.exitCode, String(r.stdout)).toBe(1);
    expect(r.stdout).toContain('- app with recipe app@1.0.0');
    expect(r.stdout).toContain('Restore now?');
    expect(r.stdout).toContain('Restore cancelled; no host was touched.');
  }, 180_000);
});

describe('config discovery and environment variables', () => {
  const configShow = async (cwd: string, extra: Record<string, string> = {}) => {
    const r = await runCli(['config', 'show', '--json'], { cwd, env: env(extra) });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    return jsonEvent<{ config: { file: string } }>(r.stdout, 'config.show').config.file;
  };

  it('uses ./lsbackup.config.yaml, else $XDG_CONFIG_HOME/lsbackup/config.yaml; $LSBACKUP_CONFIG and --config win', async () => {
    const cwd = path.join(ws.dir, 'project');
    await mkdir(cwd, { recursive: true });
    const xdg = await ws.write('xdg/lsbackup/config.yaml', 'cluster: from-xdg\n');
    expect(await configShow(cwd)).toBe(xdg);
    const local = await ws.write('project/lsbackup.config.yaml', 'cluster: from-cwd\n');
    expect(await configShow(cwd)).toBe(local);
    const named = await ws.write('elsewhere.yaml', 'cluster: from-env\n');
    expect(await configShow(cwd, { LSBACKUP_CONFIG: named })).toBe(named);
    const r = await runCli(['config', 'show', '--json', '-c', xdg], { cwd, env: env({ LSBACKUP_CONFIG: named }) });
    expect(jsonEvent<{ config: { file: string } }>(r.stdout, 'config.show').config.file).toBe(xdg);
    // --help says where the config is looked for and which file that is now.
    const help = await runCli(['--help'], { cwd, env: env({ LSBACKUP_CONFIG: named }) });
    expect(help.stdout).toContain(`now: ${named} (from $LSBACKUP_CONFIG)`);
    expect(help.stdout).toContain(path.join(ws.dir, 'xdg/lsbackup/config.yaml'));
  }, 60_000);

  it('a missing $LSBACKUP_CONFIG is a usage error naming it', async () => {
    const r = await runCli(['list'], { cwd: ws.dir, env: env({ LSBACKUP_CONFIG: path.join(ws.dir, 'nope.yaml') }) });
    expect(r.exitCode, cliOutput(r)).toBe(64);
    expect(r.stderr).toContain(`config file ${path.join(ws.dir, 'nope.yaml')} (from $LSBACKUP_CONFIG) does not exist`);
  }, 60_000);

  it('$LSBACKUP_TARGET is the target when no -t is given; -t wins', async () => {
    await mkdir(path.join(ws.dir, 'empty'));
    const fromEnv = await runCli(['list'], { cwd: ws.dir, env: env({ LSBACKUP_TARGET: path.join(ws.dir, 'empty') }) });
    expect(fromEnv.exitCode, cliOutput(fromEnv)).toBe(0);
    expect(fromEnv.stdout).toContain('no lsbackup archives');
    const flag = await runCli(['list', '-t', path.join(ws.dir, 'missing')], { cwd: ws.dir, env: env({ LSBACKUP_TARGET: path.join(ws.dir, 'empty') }) });
    expect(flag.stderr).toContain(`directory ${path.join(ws.dir, 'missing')} does not exist`);
  }, 60_000);
});

describe('list', () => {
  it('on a directory that does not exist exits 1 saying so (not "no archives")', async () => {
    const r = await runCli(['list', '-t', path.join(ws.dir, 'typo')], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stderr).toContain(`directory ${path.join(ws.dir, 'typo')} does not exist`);
    expect(r.stdout).not.toContain('no lsbackup archives');
  }, 60_000);
});

describe('an empty or malformed value (a shell variable unset, a key mistyped)', () => {
  // Before: `-c ''` used the config found by discovery instead, `apply ''` read the working
  // directory as the recipes, `--cluster ''` named the backups' cluster '' (its retention then took
  // in every other run whose variable was unset), `--only ''` backed up every component, and
  // `--encrypt-to bogus` started the run and exited 1.
  const empty = (option: string) => `${option} is empty (is a shell variable unset?)`;
  it.each([
    [['-c', ''], empty("option '-c, --config <file>'")],
    [['--cluster', ''], empty("option '--cluster <name>'")],
    [['--only', ''], empty("option '--only <components>'")],
    [['--skip', ' '], empty("option '--skip <components>'")],
    [['--skip', ' , '], "option '--skip <components>' argument ' , ' is invalid. names no component"],
    [['--var', ''], empty("option '--var <component.name=value>'")],
    [['--encrypt-to', ''], empty("option '--encrypt-to <recipient>'")],
    [['--encrypt-to', 'bogus'], "option '--encrypt-to <recipient>' argument 'bogus' is invalid. is not an age public key"],
    [['--report', ''], empty("option '--report <file>'")],
  ])(
    'apply %j exits 64 naming the option, and makes no backup',
    async (flags, message) => {
      await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
      await ws.write('recipes/app.yaml', recipeYaml('app', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo ok\n      output: ok.txt\n'));
      // A config discovery would find: -c '' must not fall back to it.
      await ws.write('lsbackup.config.yaml', `targets: [${path.join(ws.dir, 'discovered')}]\n`);
      const backups = path.join(ws.dir, 'backups');
      const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', backups, ...flags], { env: env(), cwd: ws.dir });
      expect(r.exitCode, cliOutput(r)).toBe(64);
      expect(r.stderr).toContain(message);
      expect(existsSync(backups)).toBe(false);
      expect(existsSync(path.join(ws.dir, 'discovered'))).toBe(false);
    },
    60_000,
  );

  it.each([
    [['--skip', 'ap'], "--skip (components.skip) names 'ap', which is not one of the recipes (did you mean 'app'?); the recipes: app"],
    [['--only', 'app,ap'], "--only (components.only) names 'ap', which is not one of the recipes (did you mean 'app'?); the recipes: app"],
  ])(
    'apply and plan %j: a name no recipe has exits 64 (a misspelt --skip ran what it meant to leave out)',
    async (flags, message) => {
      await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
      const trace = path.join(ws.dir, 'ran');
      await ws.write(
        'recipes/app.yaml',
        recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: touch ${trace}; echo ok\n      output: ok.txt\n`),
      );
      const backups = path.join(ws.dir, 'backups');
      const args = [path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), ...flags];
      for (const command of [
        ['apply', ...args, '-t', backups],
        ['plan', ...args],
      ]) {
        const r = await runCli(command, { env: env() });
        expect(r.exitCode, cliOutput(r)).toBe(64);
        expect(r.stderr).toContain(message);
      }
      expect(existsSync(trace)).toBe(false);
      expect(existsSync(backups)).toBe(false);
    },
    60_000,
  );

  it("an empty argument: `apply ''` does not read the working directory as recipes, `list --cluster ''` is refused too", async () => {
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    await ws.write('app.yaml', recipeYaml('app', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo ok\n      output: ok.txt\n'));
    const backups = path.join(ws.dir, 'backups');
    const apply = await runCli(['apply', '', '-b', path.join(ws.dir, 'build'), '-t', backups], { env: env(), cwd: ws.dir });
    expect(apply.exitCode, cliOutput(apply)).toBe(64);
    expect(apply.stderr).toContain(empty("argument 'recipes'"));
    expect(existsSync(backups)).toBe(false);
    const list = await runCli(['list', '-t', ws.dir, '--cluster', ''], { env: env() });
    expect(list.exitCode, cliOutput(list)).toBe(64);
    expect(list.stderr).toContain(empty("option '--cluster <name>'"));
  }, 60_000);
});

describe('a mistyped command', () => {
  it('exits 64 and names the closest command', async () => {
    const r = await runCli(['lsit'], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(64);
    expect(r.stderr).toContain("unknown command 'lsit' (did you mean 'list'?)");
  }, 60_000);
});

/** Every subcommand path ("list", "config init"), read from the built program itself. */
async function commandPaths(): Promise<string[]> {
  const script = `
    const { buildProgram } = await import(${JSON.stringify(path.join(repoRoot, 'dist/engine/cli/main.js'))});
    const { allSubcommands, commandPath } = await import(${JSON.stringify(path.join(repoRoot, 'dist/engine/cli/help-examples.js'))});
    console.log(JSON.stringify(allSubcommands(buildProgram(() => {}, { redact: (s) => s })).map(commandPath)));`;
  const r = await execa('node', ['--input-type=module', '-e', script]);
  return JSON.parse(String(r.stdout)) as string[];
}

describe('--help', () => {
  it('every subcommand shows an Examples section with a runnable lsbackup line', async () => {
    const paths = await commandPaths();
    expect(paths).toEqual(expect.arrayContaining(['apply', 'list', 'config init', 'completion']));
    const missing: string[] = [];
    for (const p of paths) {
      const r = await runCli([...p.split(' '), '--help'], { env: env() });
      expect(r.exitCode, cliOutput(r)).toBe(0);
      if (!new RegExp(`\\nExamples:\\n(\\s+#.*\\n)?\\s+(\\S+=\\S+ )?lsbackup ${p}\\b`).test(r.stdout)) missing.push(p);
    }
    expect(missing).toEqual([]);
  }, 180_000);
});

describe('completion', () => {
  /** What bash's completion offers for `words` (the last one is being typed), the script sourced in a real bash. */
  async function bashCompletes(...words: string[]): Promise<string[]> {
    const script = `source <(node ${JSON.stringify(cliPath)} completion bash)
COMP_WORDS=(lsbackup ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}
_lsbackup; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await execa('bash', ['-c', script], { env: env() });
    return String(r.stdout).split('\n').filter(Boolean).sort();
  }

  it("bash: commands, nested commands and each command's own options", async () => {
    expect(await bashCompletes('l')).toEqual(['list']);
    expect(await bashCompletes('config', '')).toEqual(expect.arrayContaining(['init', 'show', 'validate']));
    expect(await bashCompletes('config', 'init', '--f')).toEqual(['--force']);
    expect(await bashCompletes('prune', '--keep-')).toEqual([
      '--keep-daily',
      '--keep-hourly',
      '--keep-last',
      '--keep-monthly',
      '--keep-weekly',
      '--keep-within',
      '--keep-yearly',
    ]);
    // Option values between the words do not lose the command.
    expect(await bashCompletes('-c', 'x.yaml', 'restore', '--dry')).toEqual(['--dry-run']);
  }, 60_000);

  it('zsh and fish scripts come from the same program; an unknown shell is a usage error', async () => {
    const zsh = await runCli(['completion', 'zsh'], { env: env() });
    expect(zsh.stdout).toMatch(/^#compdef lsbackup\n/);
    expect(zsh.stdout).toContain("'config init') words='--output -o --force");
    const fish = await runCli(['completion', 'fish'], { env: env() });
    expect(fish.stdout).toContain("complete -c lsbackup -n '__fish_seen_subcommand_from prune' -l keep-daily");
    expect((await runCli(['completion', 'tcsh'], { env: env() })).exitCode).toBe(64);
  }, 60_000);
});

describe('$schema modelines', () => {
  const modeline = /^# yaml-language-server: \$schema=(\S+)$/m;

  it('in the shipped recipes, profiles and sample config point at files that exist', async () => {
    const files = [
      ...(await readdir(path.join(repoRoot, 'recipes'))).map((f) => path.join(repoRoot, 'recipes', f)),
      ...(await readdir(path.join(repoRoot, 'profiles'))).map((f) => path.join(repoRoot, 'profiles', f)),
      path.join(repoRoot, 'lsbackup.config.yaml'),
    ].filter((f) => f.endsWith('.yaml'));
    const broken: string[] = [];
    for (const file of files) {
      const ref = modeline.exec(await readFile(file, 'utf8'))?.[1];
      if (!ref || !existsSync(path.resolve(path.dirname(file), ref))) broken.push(`${file}: ${ref}`);
    }
    expect(broken).toEqual([]);
  });

  it('in the sample `config init` writes points at the installed schema', async () => {
    const r = await runCli(['config', 'init', '-o', path.join(ws.dir, 'lsbackup.config.yaml')], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(0);
    const ref = modeline.exec(await readFile(path.join(ws.dir, 'lsbackup.config.yaml'), 'utf8'))?.[1];
    expect(ref).toBe(path.join(repoRoot, 'schemas/config.schema.json'));
    expect(existsSync(ref!)).toBe(true);
  }, 60_000);
});
