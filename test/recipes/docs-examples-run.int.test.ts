/**
 * Every code block of docs/recipes.md RUN, as extracted from the page (test/helpers/recipes-doc.ts),
 * so an example that stops working fails here:
 * - the complete example, text unchanged, through the built CLI on an sshd host (sudo to postgres)
 *   against a real PostgreSQL 15: apply → drop the database → restore → rows back. Only vars and
 *   inventory values are the test's (`--var postgresql.port/config_dir`, host var
 *   `pg_extra_conf`). The host's sshd runs in a mount namespace (test/fleet/fleet.ts mountSetup)
 *   where `/usr/bin/systemctl` is a stand-in whose unit `postgresql` is this test's server (its
 *   pg_ctl; no systemd runs here) and `/run/postgresql` is that server's socket dir, so the
 *   example's `psql -p PORT` finds it where Debian's psql looks;
 * - the `tests:` snippet, in a minimal recipe for a data dir, through `lsbackup recipe test` with
 *   the arguments of the page's command line (run in a directory laid out as those paths say);
 * - the fragments wrapped into minimal recipes: `spec.env` connects psql to the real server, the
 *   shellcheck directive silences SC2194 under `validate --shellcheck`, the template lines render
 *   in `plan`; and the page's `lsbackup validate recipes/` line passes on this repository.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellQuote } from '../../engine/template/index.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { PG_BIN, chownTree, serverOptions, startPostgres, type PostgresServer } from '../infra/index.js';
import { archiveEntry, componentOf, hostOf } from '../helpers/archive.js';
import { cliOutput, jsonEvent, jsonEvents, recipeYaml, repoRoot, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';
import { blocksUnder, docBlocks } from '../helpers/recipes-doc.js';

const COMPLETE = '## A complete example';
const ENV = '### Settings stated once: env';
const SHELLCHECK = '### Linting commands: validate --shellcheck';
const TEMPLATES = '## Templates';
const TESTING = '## Testing a recipe';

/** The words of a documented command line, its trailing `# comment` left out. */
const commandWords = (line: string) =>
  line
    .replace(/\s#.*$/s, '')
    .trim()
    .split(/\s+/);

/** A fragment's lines indented by `by` spaces more (or fewer, negative). */
const indent = (text: string, by: number) =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (by >= 0 ? ' '.repeat(by) + l : l.slice(-by)))
    .join('\n');

/** A fragment of step keys as one item of a YAML list indented by `by` spaces. */
const listItem = (text: string, by: number) => indent('- ' + indent(text, 2).slice(2), by);

const SECRET = 'docs-example-pg-password';
let dir: string;
/** PostgreSQL's configuration directory, apart from its data as in Debian's /etc/postgresql. */
let configDir: string;
let pg: PostgresServer;
const setting = (value: string) => `lsbackup.docs_example = '${value}'\n`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-docs-run-'));
  await chmod(dir, 0o755);
  configDir = path.join(dir, 'etc-postgresql');
  await mkdir(configDir);
  await writeFile(path.join(configDir, 'lsbackup-docs.conf'), setting('as backed up'));
  await writeFile(path.join(configDir, 'stale.pid'), '4242\n'); // the complete example excludes *.pid
  await chownTree(configDir, 'postgres');
  pg = await startPostgres({ conf: [`include_dir = '${configDir}'`] });
}, 300_000);
afterAll(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('every code block of docs/recipes.md is one this file runs', () => {
  // A new block fails here until a test below runs it.
  expect(docBlocks.map((b) => `${b.heading} [${b.lang}]`)).toEqual([
    '# Writing lsbackup recipes []',
    `${COMPLETE} [yaml]`,
    `${ENV} [yaml]`,
    `${SHELLCHECK} [yaml]`,
    `${TEMPLATES} [yaml]`,
    `${TESTING} [yaml]`,
    `${TESTING} [sh]`,
  ]);
});

it("the page's validate line passes on this repository's recipes", async () => {
  const [lsbackup, ...args] = commandWords(blocksUnder('# Writing lsbackup recipes', '')[0]!);
  expect(lsbackup).toBe('lsbackup');
  const run = await runCli(args, { cwd: repoRoot });
  expect(run.exitCode, cliOutput(run)).toBe(0);
});

describe('fragments wrapped into minimal recipes', () => {
  it('the env fragment connects every psql of a recipe the same way', async () => {
    const local = await createCluster({ local: ['pg_env'] });
    try {
      const spec = blocksUnder(ENV, 'yaml')[0]!.replace(/^spec:\n/, '');
      const file = path.join(local.recipes, 'pg-env.yaml');
      await writeFile(
        file,
        recipeYaml(
          'pg-env',
          [
            'hosts:',
            '  group: pg_env',
            'vars:',
            '  pg_host: localhost',
            '  pg_port: 5432',
            '  pg_user: postgres',
            indent(spec, -2),
            'backup:',
            '  snapshot:',
            "    - run: psql -X -At -c 'SELECT current_user, inet_server_port()'",
            '      output: connection.txt',
          ].join('\n'),
        ),
      );
      const run = await local.apply(file, ['--var', `pg-env.pg_host=${pg.host}`, '--var', `pg-env.pg_port=${pg.port}`]);
      expect(run.exitCode, cliOutput(run)).toBe(0);
      expect(await archiveEntry(run.archive!, 'pg-env/localhost/connection.txt')).toBe(`postgres|${pg.port}\n`);
    } finally {
      await local.cleanup();
    }
  });

  it('the shellcheck directive silences SC2194, which is found without it', async () => {
    const snippet = blocksUnder(SHELLCHECK, 'yaml')[0]!;
    const withStep = (step: string) =>
      recipeYaml('zk-case', ['hosts:', '  group: zk', 'vars:', '  zk_data_dir: /var/lib/zookeeper', 'backup:', '  pre:', listItem(step, 4)].join('\n'));
    const file = path.join(dir, 'zk-case.yaml');

    await writeFile(file, withStep(snippet));
    const silenced = await runCli(['validate', '--shellcheck', file]);
    expect(silenced.exitCode, cliOutput(silenced)).toBe(0);

    await writeFile(file, withStep(snippet.replace(/^\s*# shellcheck disable=.*\n/m, '')));
    const found = await runCli(['validate', '--shellcheck', file]);
    expect(found.exitCode, cliOutput(found)).toBe(78);
    expect(found.stdout + found.stderr).toContain('SC2194');
  });

  it('the template lines render per host: the database from host vars, skipped off the primary, the secret kept off the command', async () => {
    const lines = blocksUnder(TEMPLATES, 'yaml')[0]!.replace(/\n$/, '').split('\n');
    const collect = lines.filter((l) => l.startsWith('path:'));
    const command = lines.filter((l) => !l.startsWith('path:'));
    const local = await createCluster({ local: ['pg'], env: { PG_PASSWORD: SECRET } });
    try {
      const file = path.join(local.recipes, 'templates.yaml');
      const spec = ['hosts:', '  group: pg', 'vars:', '  port: 5432', '  config_dir: /etc/postgresql', 'backup:', '  snapshot:'];
      await writeFile(file, recipeYaml('templates', [...spec, listItem(command.join('\n'), 4), '  collect:', listItem(collect.join('\n'), 4)].join('\n')));
      const plan = async (role: string) => {
        await local.hostVars('localhost', { role, pg_database: 'shop' });
        const run = await runCli(['plan', file, '-b', local.build, '--json'], { env: local.env });
        expect(run.exitCode, cliOutput(run)).toBe(0);
        expect(run.stdout).not.toContain(SECRET);
        const [host] = jsonEvent<{ hosts: { steps: { kind: string; command?: string; env?: string[]; enabled: boolean }[] }[] }>(
          run.stdout,
          'plan.component',
        ).hosts;
        return host!.steps;
      };
      const [dump, files] = await plan('primary');
      expect(dump).toMatchObject({ command: 'pg_dump -p 5432 shop', env: ['PGPASSWORD'], enabled: true });
      expect(JSON.stringify(files)).toContain('/etc/default/templates');
      expect((await plan('replica'))[0]).toMatchObject({ enabled: false });
    } finally {
      await local.cleanup();
    }
  });
});

describe("the tests: snippet and the page's recipe test line", () => {
  it('round-trips a data dir through recipe test with those arguments', async () => {
    const [lsbackup, recipeCmd, test, recipeArg, ...args] = commandWords(blocksUnder(TESTING, 'sh')[0]!);
    expect([lsbackup, recipeCmd, test]).toEqual(['lsbackup', 'recipe', 'test']);
    const build = args[args.indexOf('-b') + 1]!;
    // A directory laid out as the line's relative paths say.
    const cwd = path.join(dir, 'testing');
    const dataDir = path.join(cwd, 'data');
    await mkdir(path.join(cwd, build), { recursive: true });
    await writeFile(path.join(cwd, build, 'inventory'), '[my_cache]\nlocalhost ansible_connection=local\n');
    const name = path.basename(recipeArg!, '.yaml');
    const spec = [
      'hosts:',
      '  group: my_cache',
      'vars:',
      `  data_dir: ${dataDir}`,
      'backup:',
      '  collect:',
      '    - path: "{{vars.data_dir}}"',
      'restore:',
      '  apply:',
      '    - files: "{{vars.data_dir}}"',
    ];
    await mkdir(path.join(cwd, path.dirname(recipeArg!)), { recursive: true });
    await writeFile(path.join(cwd, recipeArg!), recipeYaml(name, [...spec, indent(blocksUnder(TESTING, 'yaml')[0]!, -2)].join('\n')));

    await expectRoundTrip(recipeArg!, args, { cwd });
    expect(await readFile(path.join(dataDir, 'lsbackup-recipe-test.txt'), 'utf8')).toBe('hello\n');
  });
});

describe('the complete example, on an sshd host against a real PostgreSQL', () => {
  let fleet: Fleet;
  let b: Cluster;
  let recipe: string;
  let extraConf: string;
  let systemctlCalls: string;
  let vars: string[];

  beforeAll(async () => {
    extraConf = path.join(dir, 'pg-extra.conf');
    await writeFile(extraConf, '# host var pg_extra_conf names this file\n');

    // systemctl stand-in: the unit postgresql is this server, stopped and started by its pg_ctl.
    systemctlCalls = path.join(dir, 'systemctl-calls.log');
    const systemctl = path.join(dir, 'systemctl');
    const pgCtl = (args: string) => `exec runuser -u postgres -- ${PG_BIN}/pg_ctl -D ${shellQuote(pg.dataDir)} ${args}`;
    await writeFile(
      systemctl,
      `#!/bin/sh
# systemctl stand-in of test/recipes/docs-examples-run.int.test.ts: unit postgresql is its server.
echo "$*" >> ${shellQuote(systemctlCalls)}
[ "$2" = postgresql ] || { echo "systemctl stand-in: no unit $2" >&2; exit 5; }
case "$1" in
  stop) ${pgCtl('-m fast -w stop')} ;;
  start) ${pgCtl(`-l ${shellQuote(pg.logFile)} -w -t 300 -o ${shellQuote(serverOptions(pg.port, pg.socketDir))} start`)} ;;
  *) echo "systemctl stand-in: no verb $1" >&2; exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
    fleet = await startFleet({
      hosts: 1,
      mountSetup: [`mount --bind ${shellQuote(systemctl)} /usr/bin/systemctl`, `mount --bind ${shellQuote(pg.socketDir)} /run/postgresql`].join('\n'),
    });
    b = await createCluster({ fleet, groups: { host1: ['postgresql'] }, hostVars: { host1: { pg_extra_conf: extraConf } }, env: { PG_PASSWORD: SECRET } });
    recipe = path.join(b.recipes, 'postgresql.yaml');
    await writeFile(recipe, blocksUnder(COMPLETE, 'yaml')[0]!);
    vars = ['--var', `postgresql.port=${pg.port}`, '--var', `postgresql.config_dir=${configDir}`];
  }, 300_000);
  afterAll(async () => {
    await fleet?.stop();
    await b?.cleanup();
  });

  it('backs up, and after the database is dropped restores its rows, the configuration first', async () => {
    await pg.psql('CREATE DATABASE docs_example');
    await pg.psql(
      "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 300) g",
      'docs_example',
    );
    const rows = await pg.psql('SELECT count(*), sum(id), max(name) FROM items', 'docs_example');
    expect(await pg.psql('SHOW lsbackup.docs_example')).toBe('as backed up');

    const backup = await b.apply(recipe, [...vars, '--json']);
    expect(backup.exitCode, cliOutput(backup)).toBe(0);
    const meta = backup.metadata!;
    expect(hostOf(componentOf(meta, 'postgresql'), 'host1').status).toBe('success');
    expect(componentOf(meta, 'postgresql').componentVersion).toMatch(/^psql \(PostgreSQL\) 15\./); // version: psql --version
    const entries = meta.entries.map((e) => e.path);
    expect(entries).toContain(`postgresql/host1/files${configDir}/lsbackup-docs.conf`);
    expect(entries).toContain(`postgresql/host1/files${extraConf}`); // collected because pg_extra_conf is set
    expect(entries.filter((e) => e.endsWith('.pid'))).toEqual([]);
    expect(await archiveEntry(backup.archive!, 'postgresql/host1/dumpall.sql')).toContain('CREATE DATABASE docs_example');
    const post = jsonEvents(backup.stdout, 'step.end').find((e) => e.phase === 'post');
    expect(post?.stdoutTail, cliOutput(backup)).toBe(`done ${meta.backupId} on host1 of host1`);
    expect(backup.stdout + backup.stderr + JSON.stringify(meta)).not.toContain(SECRET);

    // Lose the database, and change the configuration after the backup.
    await pg.psql('DROP DATABASE docs_example');
    await writeFile(path.join(configDir, 'lsbackup-docs.conf'), setting('changed after the backup'));
    await writeFile(systemctlCalls, '');

    const restore = await b.restore(backup.archive!, [...vars, '--json']);
    expect(restore.exitCode, cliOutput(restore)).toBe(0);
    expect(await readFile(systemctlCalls, 'utf8')).toBe('stop postgresql\nstart postgresql\n');
    expect(await pg.psql('SELECT count(*), sum(id), max(name) FROM items', 'docs_example')).toBe(rows);
    // The server was started on the restored configuration.
    expect(await pg.psql('SHOW lsbackup.docs_example')).toBe('as backed up');
    const restorePost = jsonEvents(restore.stdout, 'step.end').find((e) => e.phase === 'post');
    expect(restorePost?.stdoutTail, cliOutput(restore)).toBe('host1 0 postgresql');
  });
});
