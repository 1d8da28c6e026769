/**
 * `config validate` makes the checks `run` makes before any work (engine/jobs/check.ts, the same
 * set-up code): a config it calls valid does not fail a run at its first step, and each problem
 * names the config's file:line:col and the fix — in `run`'s error too, which takes no -b or -t.
 * Through the built CLI, a local inventory and a test recipe.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;

beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/tiny.yaml',
    recipeYaml('tiny', `hosts: { group: app }\nvars: { greeting: hello }\nbackup:\n  snapshot:\n    - run: echo {{vars.greeting}}\n      output: g.txt\n`),
  );
});
afterEach(() => ws.cleanup());

// Line 1-3 are the header; each case's body starts at line 4.
const header = 'apiVersion: lsbackup/v1\nkind: Config\ncluster: c\n';
const env = () => ({ XDG_CACHE_HOME: path.join(ws.dir, 'cache') });
const cli = (...args: string[]) => runCli(args, { cwd: ws.dir, env: env() });

const cases: { what: string; body: string; at: string; says: RegExp }[] = [
  {
    what: 'a build directory that is not there',
    body: 'build: ./nope\nrecipes: [./recipes]\ntargets: [./backups]\n',
    at: '4:1',
    says: /build: no Ansible inventory found at .*nope \(set build to a build directory/,
  },
  {
    what: 'a recipes directory that is not there',
    body: 'build: ./build\nrecipes: [./nope]\ntargets: [./backups]\n',
    at: '5:1',
    says: /recipes: .*nope: no such file or directory \(list recipe directories or files that exist/,
  },
  {
    what: 'components.only naming no recipe',
    body: 'build: ./build\nrecipes: [./recipes]\ntargets: [./backups]\ncomponents:\n  only: [tinyy]\n',
    at: '8:3',
    says: /components\.only names 'tinyy', which is not one of the recipes \(did you mean 'tiny'\?\)/,
  },
  {
    what: 'a components.vars entry the recipe does not have',
    body: 'build: ./build\nrecipes: [./recipes]\ntargets: [./backups]\ncomponents:\n  vars: { tiny: { a: 1 } }\n',
    at: '8:19',
    says: /components\.vars\.tiny\.a: recipe 'tiny' has no var 'a' \(its vars: greeting\)/,
  },
  {
    what: 'no targets (a job without them)',
    body: 'build: ./build\nrecipes: [./recipes]\njobs:\n  nightly: {}\n',
    at: '7:3',
    says: /targets is not set \(set targets \(top level or in the job\)/,
  },
  {
    what: 'a signing key file that is not there',
    body: 'build: ./build\nrecipes: [./recipes]\ntargets: [./backups]\nsigning:\n  key: ./nokey\n',
    at: '8:3',
    says: /signing\.key: cannot read the signing key .*nokey: ENOENT \(set signing\.key to an SSH private key file/,
  },
  {
    what: 'an age recipient that is not one',
    body: 'build: ./build\nrecipes: [./recipes]\ntargets: [./backups]\nencryption:\n  recipients: [age1notvalid]\n',
    at: '8:3',
    says: /encryption\.recipients: 'age1notvalid' is not an age recipient \(expected age1\.\.\.\) \(each recipient is an age public key/,
  },
];

describe('config validate checks what run checks', () => {
  for (const c of cases) {
    it(`${c.what}: validate and run both exit 78 at file:line:col with the fix, and nothing is backed up`, async () => {
      const file = await ws.write('c.yaml', header + c.body);
      const validate = await cli('config', 'validate', '-c', file);
      expect(validate.exitCode, cliOutput(validate)).toBe(78);
      expect(validate.stderr).toContain(`${file}:${c.at}: `);
      expect(validate.stderr).toMatch(c.says);

      const run = await cli('run', '-c', file);
      expect(run.exitCode, cliOutput(run)).toBe(78);
      expect(run.stderr).toContain(`${file}:${c.at}: `);
      expect(run.stderr).toMatch(c.says);
      // run takes neither -b nor -t: the config's key is the fix.
      expect(run.stderr).not.toMatch(/pass -[bt]\b/i);
      expect(existsSync(path.join(ws.dir, 'backups'))).toBe(false);
    });
  }

  it('reports every problem of every job at once; one of the top level that jobs inherit once', async () => {
    const file = await ws.write(
      'c.yaml',
      header +
        'build: ./nope\nrecipes: [./recipes]\nsigning:\n  key: ./nokey\njobs:\n  a:\n    targets: [./a]\n    components: { only: [tinyy] }\n  b:\n    build: ./build\n',
    );
    const r = await cli('config', 'validate', '-c', file);
    expect(r.exitCode, cliOutput(r)).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringContaining(`${file}:4:1: build: no Ansible inventory found`),
      expect.stringContaining(`${file}:7:3: signing.key: cannot read the signing key`),
      expect.stringContaining(`${file}:11:19: components.only names 'tinyy'`),
      expect.stringContaining(`${file}:12:3: targets is not set`),
      `4 problems found in ${file}.`,
    ]);
  });

  it('a config whose jobs can run is valid, and runs', async () => {
    const file = await ws.write('c.yaml', header + 'build: ./build\nrecipes: [./recipes]\ntargets: [./backups]\ncomponents:\n  only: [tiny]\n');
    const validate = await cli('config', 'validate', '-c', file);
    expect(validate.exitCode, cliOutput(validate)).toBe(0);
    expect(validate.stdout).toContain('is valid (jobs: default)');
    const run = await cli('run', '-c', file, '-q');
    expect(run.exitCode, cliOutput(run)).toBe(0);
  });
});
