/**
 * The --json contract (docs/json.md) through the built CLI: every command, once succeeding and once
 * failing (a bad flag, a missing archive, an invalid recipe or config), prints only JSON lines,
 * each valid against schemas/events.schema.json; failures end with an `error` event; every line
 * of `run` and `schedule` names its job, cluster and backup; the run report validates against
 * schemas/run-report.schema.json. A command added without a case here fails the last test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { cliOutput, recipeYaml, repoRoot, runCli, spawnCli, workspace, type CliResult } from '../helpers/cli.js';
import { jsonLines } from '../helpers/lines.js';

type Event = Record<string, unknown> & { type: string };

const schema = (name: string) => JSON.parse(readFileSync(path.join(repoRoot, 'schemas', name), 'utf8')) as Record<string, unknown>;
// Compiled as engine/schema/validate.ts compiles the project's schemas: Ajv 2020-12, strict, date-time.
const ajv = new Ajv2020({ allErrors: true, strict: true });
(createRequire(import.meta.url)('ajv-formats') as { default: (a: Ajv2020, formats: string[]) => void }).default(ajv, ['date-time']);
ajv.addSchema(schema('run-report.schema.json'));
const validEvent = ajv.compile(schema('events.schema.json'));
const validReport = ajv.getSchema('https://lsbackup.dev/schemas/run-report.schema.json')!;

/** Why an event is invalid, said by its own type's shape (the union's message lists every type). */
function whyInvalid(e: Event): string {
  const own = ajv.getSchema(`https://lsbackup.dev/schemas/events.schema.json#/$defs/${String(e.type).replaceAll('.', '_')}`);
  if (!own) return `no event type '${e.type}' in the schema`;
  const validAsItsType = own(e) as boolean;
  return ajv.errorsText(validAsItsType ? validEvent.errors : own.errors);
}

/** Command path -> which outcomes a case here printed (checked against the commander tree at the end). */
const covered = new Map<string, Set<'success' | 'failure'>>();
/** Commands with no --json of their own: they must refuse it as a usage error event. */
const NO_JSON_OUTPUT = new Set(['completion']);

let ws: Awaited<ReturnType<typeof workspace>>;
const env = () => ({ LSBACKUP_CONFIG: '', LSBACKUP_TARGET: '', XDG_CONFIG_HOME: path.join(ws.dir, 'xdg'), XDG_CACHE_HOME: path.join(ws.dir, 'cache') });

/** Every stdout line parsed and checked against the schema; the command's outcome recorded. */
function events(command: string, r: CliResult, outcome: 'success' | 'failure'): Event[] {
  expect(r.exitCode === 0, cliOutput(r)).toBe(outcome === 'success');
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  expect(lines.length, cliOutput(r)).toBeGreaterThan(0);
  const parsed = lines.map((l) => JSON.parse(l) as Event);
  for (const e of parsed) expect(validEvent(e) ? 'valid' : whyInvalid(e), JSON.stringify(e)).toBe('valid');
  if (outcome === 'failure') {
    const last = parsed.at(-1)!;
    expect(last, cliOutput(r)).toMatchObject({ type: 'error', exitCode: r.exitCode });
  }
  covered.set(command, (covered.get(command) ?? new Set()).add(outcome));
  return parsed;
}

const cli = (args: string[]) => runCli(args, { cwd: ws.dir, env: env() });
const target = () => path.join(ws.dir, 'backups');
let archive = '';

beforeAll(async () => {
  ws = await workspace('lsb-json-');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('data/app.txt', 'hello\n');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app, run: all }
backup:
  snapshot:
    - run: cat ${path.join(ws.dir, 'data/app.txt')}
      output: app.txt
restore:
  apply:
    - run: cat > ${path.join(ws.dir, 'data/restored.txt')}
      input: app.txt
`,
    ),
  );
  await ws.write('bad-recipes/bad.yaml', 'apiVersion: lsbackup/v1\nkind: Recipe\nmetadata: { name: bad }\n');
  await ws.write(
    'lsbackup.config.yaml',
    `build: ./build\nrecipes: [./recipes]\ntargets: [./backups]\ncluster: jsonc\njobs:\n  nightly:\n    schedule: "* * * * * *"\n`,
  );
  await ws.write('broken.config.yaml', 'targets: 7\nbogus: true\n');
}, 60_000);
afterAll(async () => ws.cleanup());

describe('every command prints JSON lines valid against schemas/events.schema.json', () => {
  it('apply: run events; a bad flag is an error event', async () => {
    const ok = events('apply', await cli(['apply', 'recipes', '-b', 'build', '-t', target(), '--json']), 'success');
    expect(ok.map((e) => e.type)).toEqual(expect.arrayContaining(['run.start', 'step.end', 'archive.stored', 'run.end']));
    archive = String(ok.find((e) => e.type === 'archive.stored')!.name);
    const bad = events('apply', await cli(['apply', '--no-such-flag', '--json']), 'failure');
    expect(bad.at(-1)).toMatchObject({ code: 'EUSAGE', exitCode: 64, message: expect.stringContaining('--no-such-flag') });
  }, 180_000);

  it('run: every line names job, cluster and backup; the report validates against run-report.schema.json', async () => {
    const r = await cli(['run', '--job', 'nightly', '--report', path.join(ws.dir, 'report.json'), '--json']);
    const lines = events('run', r, 'success');
    const start = lines.findIndex((e) => e.type === 'run.start');
    expect(start, cliOutput(r)).toBeGreaterThanOrEqual(0);
    const backupId = lines[start]!.backupId;
    for (const e of lines.slice(start)) expect(e, JSON.stringify(e)).toMatchObject({ job: 'nightly', cluster: 'jsonc', backupId });
    for (const e of lines) expect(e, JSON.stringify(e)).toMatchObject({ job: 'nightly', cluster: 'jsonc' });
    const end = lines.at(-1)!;
    expect(end.type).toBe('job.end');
    const report = JSON.parse(await readFile(path.join(ws.dir, 'report.json'), 'utf8')) as unknown;
    expect(validReport(report) ? 'valid' : ajv.errorsText(validReport.errors)).toBe('valid');
    expect(validReport(end.report) ? 'valid' : ajv.errorsText(validReport.errors)).toBe('valid');
    expect(report).toMatchObject({ job: 'nightly', status: 'success', backupId });

    const missing = events('run', await cli(['run', '--job', 'nosuch', '--json']), 'failure');
    expect(missing.at(-1)).toMatchObject({ code: 'ENOJOB', exitCode: 64 });
  }, 180_000);

  it('plan: plan events; an invalid recipe is an error naming file, line and column', async () => {
    const ok = events('plan', await cli(['plan', 'recipes', '-b', 'build', '--json']), 'success');
    expect(ok.map((e) => e.type)).toEqual(['plan.start', 'plan.component']);
    const bad = events('plan', await cli(['plan', 'bad-recipes', '-b', 'build', '--json']), 'failure');
    expect(bad.at(-1)).toMatchObject({
      code: 'EINVALID',
      exitCode: 78,
      file: path.join(ws.dir, 'bad-recipes/bad.yaml'),
      line: expect.any(Number),
      column: expect.any(Number),
    });
  }, 120_000);

  it('validate: the result, and for an invalid recipe the error after it', async () => {
    events('validate', await cli(['validate', 'recipes', '--json']), 'success');
    const bad = events('validate', await cli(['validate', 'bad-recipes', '--json']), 'failure');
    expect(bad.map((e) => e.type)).toEqual(['validate.result', 'error']);
    expect(bad[1]).toMatchObject({ code: 'EINVALID', file: path.join(ws.dir, 'bad-recipes/bad.yaml'), line: expect.any(Number), column: expect.any(Number) });
  }, 60_000);

  it('recipe init', async () => {
    const ok = events('recipe init', await cli(['recipe', 'init', 'my-cache', '-o', ws.dir, '--json']), 'success');
    expect(ok).toEqual([expect.objectContaining({ type: 'recipe.init', file: path.join(ws.dir, 'my-cache.yaml') })]);
    events('recipe init', await cli(['recipe', 'init', 'Not A Slug', '--json']), 'failure');
  }, 60_000);

  it('recipe test: stage events for each stage; a recipe without tests is an error event', async () => {
    const dir = path.join(ws.dir, 'data');
    await ws.write(
      'rt/rt.yaml',
      recipeYaml(
        'rt',
        `hosts: { group: app, run: all }
backup:
  snapshot:
    - run: cat ${dir}/rt.txt
      output: rt.txt
restore:
  apply:
    - run: cat > ${dir}/rt.txt
      input: rt.txt
tests:
  seed:
    - run: echo seeded > ${dir}/rt.txt
  destroy:
    - run: rm ${dir}/rt.txt
  check:
    - run: grep -qx seeded ${dir}/rt.txt
`,
      ),
    );
    const ok = events('recipe test', await cli(['recipe', 'test', 'rt/rt.yaml', '-b', 'build', '--json']), 'success');
    const stages = ok.filter((e) => e.type === 'stage' && e.status === 'success').map((e) => e.stage);
    expect(stages).toEqual(['validate', 'seed', 'apply', 'verify', 'destroy', 'restore', 'check']);
    const bad = events('recipe test', await cli(['recipe', 'test', 'recipes/app.yaml', '-b', 'build', '--json']), 'failure');
    expect(bad.at(-1)).toMatchObject({ exitCode: 78 });
  }, 300_000);

  it('config validate, show and init', async () => {
    events('config validate', await cli(['config', 'validate', '--json']), 'success');
    const bad = events('config validate', await cli(['config', 'validate', '-c', 'broken.config.yaml', '--json']), 'failure');
    expect(bad.at(-1)).toMatchObject({ code: 'EINVALID', exitCode: 78, file: path.join(ws.dir, 'broken.config.yaml'), line: expect.any(Number) });
    events('config show', await cli(['config', 'show', '--json']), 'success');
    events('config show', await cli(['config', 'show', '-c', 'broken.config.yaml', '--json']), 'failure');
    events('config init', await cli(['config', 'init', '-o', path.join(ws.dir, 'sample.yaml'), '--json']), 'success');
    events('config init', await cli(['config', 'init', '-o', path.join(ws.dir, 'sample.yaml'), '--json']), 'failure');
  }, 60_000);

  it('list, show, verify, get and prune; a missing archive or target is an error event', async () => {
    const listed = events('list', await cli(['list', '-t', target(), '--json']), 'success');
    expect(listed.map((e) => e.type)).toEqual(['list.backup', 'list.backup', 'list.end']);
    events('list', await cli(['list', '-t', path.join(ws.dir, 'nowhere'), '--json']), 'failure');
    events('show', await cli(['show', archive, '-t', target(), '--json']), 'success');
    events('show', await cli(['show', 'lsbackup-jsonc-20200101T000000Z.tar.gz', '-t', target(), '--json']), 'failure');
    // verify, get and prune show progress (engine/report/progress.ts) before their result.
    expect(events('verify', await cli(['verify', archive, '-t', target(), '--json']), 'success').at(-1)).toMatchObject({ type: 'verify.result', ok: true });
    events('verify', await cli(['verify', 'lsbackup-jsonc-20200101T000000Z.tar.gz', '-t', target(), '--json']), 'failure');
    events('get', await cli(['get', archive, ws.dir, '-t', target(), '--json']), 'success');
    events('get', await cli(['get', 'lsbackup-jsonc-20200101T000000Z.tar.gz', ws.dir, '-t', target(), '--json']), 'failure');
    events('prune', await cli(['prune', '-t', target(), '--keep-last', '5', '--dry-run', '--json']), 'success');
    events('prune', await cli(['prune', '-t', target(), '--keep-last', 'many', '--json']), 'failure');
  }, 180_000);

  it('restore: --dry-run prints the plan as events, a real one run events; a missing archive is an error event', async () => {
    const dry = events('restore', await cli(['restore', archive, '-t', target(), '-b', 'build', '--recipes', 'recipes', '--dry-run', '--json']), 'success');
    // Staging reads the backup before the plan is shown: its progress comes first.
    const plan = dry.filter((e) => e.type !== 'progress');
    expect(plan.map((e) => e.type)).toEqual(['restore.plan', 'restore.plan.component']);
    expect(plan[1]).toMatchObject({
      name: 'app',
      hosts: [{ from: 'localhost', to: 'localhost', steps: [expect.objectContaining({ phase: 'apply', input: 'app.txt' })] }],
    });
    const real = events('restore', await cli(['restore', archive, '-t', target(), '-b', 'build', '--recipes', 'recipes', '--yes', '--json']), 'success');
    expect(real.at(-1)).toMatchObject({ type: 'run.end', status: 'success' });
    expect(await readFile(path.join(ws.dir, 'data/restored.txt'), 'utf8')).toBe('hello\n');
    events('restore', await cli(['restore', 'lsbackup-jsonc-20200101T000000Z.tar.gz', '-t', target(), '-b', 'build', '--dry-run', '--json']), 'failure');
  }, 180_000);

  it('schedule: every line of a job names job and cluster, its run lines the backup; no config is an error event', async () => {
    const child = spawnCli(['schedule', '--json'], { cwd: ws.dir, env: env() });
    const log = jsonLines(child.stdout!);
    const done = await log.waitFor((l) => l.type === 'schedule.done');
    child.kill('SIGTERM');
    const r = await child;
    const lines = events('schedule', { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }, 'success');
    const backupId = done.line.backupId;
    expect(done.line).toMatchObject({ job: 'nightly', cluster: 'jsonc', backupId: expect.any(String) });
    // The lines of that run, from its start to its end: each names the job, the cluster and the backup.
    const start = lines.findIndex((e) => e.type === 'run.start' && e.backupId === backupId);
    const end = lines.findIndex((e) => e.type === 'run.end' && e.backupId === backupId);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const ofRun = lines.slice(start, end + 1).filter((e) => !e.type.startsWith('schedule.') && e.backupId === backupId);
    expect(ofRun.length).toBeGreaterThan(3);
    for (const e of ofRun) expect(e, JSON.stringify(e)).toMatchObject({ job: 'nightly', cluster: 'jsonc', backupId });
    for (const e of lines.filter((l) => !l.type.startsWith('schedule.')))
      expect(e, JSON.stringify(e)).toMatchObject({ job: expect.any(String), cluster: 'jsonc' });

    const empty = await workspace('lsb-json-noconf-');
    try {
      const failed = await runCli(['schedule', '--json'], { cwd: empty.dir, env: env() });
      events('schedule', failed, 'failure');
    } finally {
      await empty.cleanup();
    }
  }, 180_000);

  it('completion has no --json of its own: asking for it is a usage error event', async () => {
    const r = await cli(['completion', 'bash', '--json']);
    expect(events('completion', r, 'failure').at(-1)).toMatchObject({ code: 'EUSAGE', exitCode: 64 });
    expect(NO_JSON_OUTPUT.has('completion')).toBe(true);
  }, 60_000);

  it('covers every command of the command line, each succeeding and failing (a new command needs a case here)', async () => {
    const all = await leafCommandPaths();
    expect(all).toEqual(expect.arrayContaining(['apply', 'list', 'config init', 'recipe init', 'completion']));
    const missing = all.filter((c) => {
      const seen = covered.get(c);
      return !seen?.has('failure') || (!NO_JSON_OUTPUT.has(c) && !seen.has('success'));
    });
    expect(missing).toEqual([]);
  }, 60_000);
});

/** Every command that runs (not a group like `config`), read from the built program itself. */
async function leafCommandPaths(): Promise<string[]> {
  const script = `
    const { buildProgram } = await import(${JSON.stringify(path.join(repoRoot, 'dist/engine/cli/main.js'))});
    const { allSubcommands, commandPath } = await import(${JSON.stringify(path.join(repoRoot, 'dist/engine/cli/help-examples.js'))});
    console.log(JSON.stringify(allSubcommands(buildProgram(() => {}, { redact: (s) => s })).filter((c) => c.commands.length === 0).map(commandPath)));`;
  const r = await execa('node', ['--input-type=module', '-e', script]);
  return JSON.parse(String(r.stdout)) as string[];
}
