/**
 * A recipe's spec-level `env:` (docs/recipes.md, "Settings stated once: env") reaches every
 * command of every phase — detect, version, pre, snapshot, collect, post and the restore phases
 * — on a local host and on an SSH host (a real sshd fleet, test/fleet), with a value full of
 * quotes, `$()`, backquotes and spaces arriving byte for byte (it travels on stdin, never through
 * a shell). A step's own env overrides a name. And `warnOn: stderr` turns a successful step's
 * stderr into a warning (secrets masked). Everything through the built CLI.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { archiveEntry } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

// Would run `touch` (and more) if it were ever put into a shell command line unquoted.
const TRICKY = `it's "$(touch /tmp/lsb-env-pwned)" \`id\`  two  spaces; $HOME \\n end`;
const TOKEN = 'tok-3f9c2e-secret';

const recipe = (markDir: string) => `hosts: { group: app }
vars: { tricky: "", mark: ${JSON.stringify(markDir)} }
# Through sudo: the env must survive its environment reset.
become: true
env:
  TRICKY: "{{vars.tricky}}"
  SHARED: from spec
  OVERRIDDEN: spec
  TOKEN: '{{secret "APP_TOKEN"}}'
detect: test "$SHARED" = "from spec"
version: printf '%s\\n' "$SHARED" | wc -c
backup:
  pre:
    - run: printf '%s' "$TRICKY" > {{vars.mark}}/pre
  snapshot:
    - name: env seen
      env: { OVERRIDDEN: step }
      run: printf '%s|%s|%s' "$TRICKY" "$SHARED" "$OVERRIDDEN"
      output: env.txt
    - name: tool with warnings
      warnOn: stderr
      run: |
        echo "pg_dump: warning: table t has no primary key (token $TOKEN)" >&2; echo data
      output: warned.txt
    - name: quiet stderr
      run: |
        echo "not a warning: just chatter" >&2
  collect:
    - path: "{{vars.mark}}/pre"
  post:
    - run: printf '%s' "$SHARED" > {{vars.mark}}/post
restore:
  pre:
    - run: printf '%s' "$TRICKY" > {{vars.mark}}/restore-pre
  apply:
    - input: env.txt
      run: cat > {{vars.mark}}/restore-apply; printf '%s' "$OVERRIDDEN" > {{vars.mark}}/restore-overridden
  post:
    - run: printf '%s' "$SHARED" > {{vars.mark}}/restore-post
`;

interface Event {
  type: string;
  component?: string;
  host?: string;
  message?: string;
}

const events = (stdout: string): Event[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);

function checkEnvEverywhere(setup: () => { cluster: Cluster; host: string; mark: string }) {
  it('every phase sees the spec env, the tricky value intact; a step env overrides; warnOn warns with secrets masked', async () => {
    const { cluster, host, mark } = setup();
    await cluster.hostVars(host, { tricky: TRICKY });
    const r = await cluster.apply(cluster.recipes, ['--json']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(existsSync('/tmp/lsb-env-pwned')).toBe(false);
    expect(await archiveEntry(r.archive!, `app/${host}/env.txt`)).toBe(`${TRICKY}|from spec|step`);
    expect(readFileSync(path.join(mark, 'pre'), 'utf8')).toBe(TRICKY);
    expect(readFileSync(path.join(mark, 'post'), 'utf8')).toBe('from spec');
    // detect passed only with SHARED set; version counted "from spec\n".
    expect(r.metadata!.components.find((c) => c.name === 'app')?.componentVersion).toBe('10');

    // A component's warnings: run-level ones (the cleanup of temp dirs a killed run of another
    // test left in /tmp) are not about steps and come and go with the order tests run in.
    const warnings = events(r.stdout).filter((e) => e.type === 'warning' && e.component !== undefined);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ component: 'app', host });
    expect(warnings[0]!.message).toContain("snapshot step 'tool with warnings'");
    expect(warnings[0]!.message).toContain('pg_dump: warning: table t has no primary key');
    expect(r.stdout).not.toContain(TOKEN);

    const restored = await cluster.restore(r.archive!);
    expect(restored.exitCode, cliOutput(restored)).toBe(0);
    expect(readFileSync(path.join(mark, 'restore-pre'), 'utf8')).toBe(TRICKY);
    expect(readFileSync(path.join(mark, 'restore-apply'), 'utf8')).toBe(`${TRICKY}|from spec|step`);
    expect(readFileSync(path.join(mark, 'restore-overridden'), 'utf8')).toBe('spec');
    expect(readFileSync(path.join(mark, 'restore-post'), 'utf8')).toBe('from spec');
  });
}

describe('spec env on a local host', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await createCluster({ local: ['app'], env: { APP_TOKEN: TOKEN } });
    await cluster.writeRecipe('app', recipe(path.join(cluster.dir, 'marks')));
    mkdirSync(path.join(cluster.dir, 'marks'));
  });
  afterAll(async () => cluster?.cleanup());
  checkEnvEverywhere(() => ({ cluster, host: 'localhost', mark: path.join(cluster.dir, 'marks') }));
});

describe('spec env on an SSH host', () => {
  let fleet: Fleet;
  let cluster: Cluster;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
    cluster = await createCluster({ fleet, groups: { host1: ['app'] }, dataDirs: true, env: { APP_TOKEN: TOKEN } });
    // The fleet user writes the marks into the host's data dir (the hosts share this filesystem).
    await cluster.writeRecipe('app', recipe(cluster.dataDir('host1')));
  });
  afterAll(async () => {
    await cluster?.cleanup();
    await fleet?.stop();
  });
  checkEnvEverywhere(() => ({ cluster, host: 'host1', mark: cluster.dataDir('host1') }));
});
