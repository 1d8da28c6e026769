/**
 * The run defaults (concurrency, step timeout, archive format) are written once, as `default`
 * keywords in schemas/config.schema.json (read by engine/config/defaults.ts). The test changes
 * them there only, in a copy of the built package, and every command follows: --help, plan,
 * config show, apply and run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, repoRoot, workspace, type CliResult, jsonEvent, jsonEvents } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let cli: string;

beforeAll(async () => {
  ws = await workspace();
  const pkg = path.join(ws.dir, 'pkg');
  await mkdir(pkg);
  await cp(path.join(repoRoot, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  await cp(path.join(repoRoot, 'package.json'), path.join(pkg, 'package.json'));
  for (const shared of ['node_modules', 'recipes', 'profiles']) await symlink(path.join(repoRoot, shared), path.join(pkg, shared));
  const schemaFile = path.join(pkg, 'dist/schemas/config.schema.json');
  const schema = JSON.parse(await readFile(schemaFile, 'utf8'));
  schema.$defs.concurrency.default = 7;
  schema.$defs.stepTimeout.default = 1234;
  schema.$defs.format.default = 'tar.zst';
  await writeFile(schemaFile, JSON.stringify(schema));
  // The shipped CLI is a bundle with the schema inside: bundle the changed copy again, as a build would.
  await mkdir(path.join(pkg, 'scripts'));
  await cp(path.join(repoRoot, 'scripts/bundle-cli.mjs'), path.join(pkg, 'scripts/bundle-cli.mjs'));
  await execa('node', [path.join(pkg, 'scripts/bundle-cli.mjs')]);
  cli = path.join(pkg, 'dist/cli/lsbackup.js');

  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hello\n      output: hello.txt\n`));
  await ws.write('lsbackup.config.yaml', 'apiVersion: lsbackup/v1\nkind: Config\ncluster: c\nbuild: ./build\nrecipes: [./recipes]\ntargets: [./backups]\n');
}, 300_000);
afterAll(async () => ws?.cleanup());

async function lsbackup(...args: string[]): Promise<CliResult> {
  // Locks in the workspace: nothing shared with other tests or runs on this machine.
  const r = await execa('node', [cli, ...args], {
    cwd: ws.dir,
    env: { XDG_CACHE_HOME: path.join(ws.dir, 'cache') },
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('defaults written once, in the config schema', () => {
  it('reach --help, plan, config show, apply and run', async () => {
    const help = await lsbackup('apply', '--help');
    expect(help.stdout).toMatch(/--concurrency <n>\s+hosts working at once \(default 7\)/);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('(default 1234)');
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('else tar.zst');

    const plan = await lsbackup('plan', '--json');
    expect(plan.exitCode, cliOutput(plan)).toBe(0);
    const steps = jsonEvents<{ hosts: { steps: { timeoutSec: number }[] }[] }>(plan.stdout, 'plan.component')[0]!.hosts[0]!.steps;
    expect(steps.map((s: { timeoutSec: number }) => s.timeoutSec)).toEqual([1234]);

    const shown = await lsbackup('config', 'show', '--json');
    expect(shown.exitCode, cliOutput(shown)).toBe(0);
    expect(jsonEvent<{ config: { jobs: Record<string, unknown> } }>(shown.stdout, 'config.show').config.jobs.default).toMatchObject({
      concurrency: 7,
      stepTimeout: 1234,
      format: 'tar.zst',
    });

    const apply = await lsbackup('apply');
    expect(apply.exitCode, cliOutput(apply)).toBe(0);
    const run = await lsbackup('run');
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const archives = (await readdir(path.join(ws.dir, 'backups'))).filter((n) => n.startsWith('lsbackup-'));
    expect(archives.filter((n) => !n.includes('.'))).toEqual([]);
    expect(archives.filter((n) => /\.tar\.zst$/.test(n))).toHaveLength(2);
    expect(archives.filter((n) => /\.tar\.gz$/.test(n))).toEqual([]);
  }, 300_000);
});
