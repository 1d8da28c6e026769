import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkConfigText, configSchema } from '../../engine/config/load.js';
import { configSample } from '../../engine/config/sample.js';
import { maskConfig } from '../../engine/config/mask.js';
import { formatProblem, LsError } from '../../engine/errors.js';
import { effectiveJobs, selectJob } from '../../engine/jobs/resolve.js';
import { createRedactor } from '../../engine/secrets/redactor.js';

const fixtures = path.join(import.meta.dirname, 'fixtures');
const expected = parse(readFileSync(path.join(import.meta.dirname, 'invalid-expected.yaml'), 'utf8')) as Record<string, string[]>;
const env = { S3_SECRET: 'sekret-value-42', HC_UUID: 'a1b2c3d4-uuid' };
const check = (dir: 'valid' | 'invalid', name: string, e: NodeJS.ProcessEnv = env) =>
  checkConfigText(path.join(fixtures, dir, name), readFileSync(path.join(fixtures, dir, name), 'utf8'), e);

describe('config fixtures', () => {
  for (const name of readdirSync(path.join(fixtures, 'valid'))) {
    it(`accepts valid/${name}`, () => {
      expect(check('valid', name).problems).toEqual([]);
    });
  }
  it('has an expectation for every invalid fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(readdirSync(path.join(fixtures, 'invalid')).sort());
  });
  for (const [name, messages] of Object.entries(expected)) {
    it(`reports every problem of invalid/${name} with file:line:col`, () => {
      const { config, problems } = check('invalid', name, {});
      expect(config).toBeUndefined();
      expect(problems.map((p) => formatProblem({ ...p, file: path.basename(p.file) }))).toEqual(messages);
    });
  }
});

/**
 * `targets: [./t17, /…/t17/]` with `keepLast: 1` stored the backup twice in one directory, and the
 * first copy's retention deleted the archive the run's result named. One place, however written.
 */
describe('a target listed twice', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const problemsOf = (targets: string) => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lsb-dup-targets-'));
    mkdirSync(path.join(dir, 't17'));
    mkdirSync(path.join(dir, 'other'));
    symlinkSync('t17', path.join(dir, 'link17'));
    const text = targets.replaceAll('$DIR', dir);
    return checkConfigText(path.join(dir, 'c.yaml'), text, {}).problems.map((p) => formatProblem({ ...p, file: path.basename(p.file) }));
  };

  it('is refused at the second entry, naming the first, when it is written relative, absolute, with a slash, as file:// or through a link', () => {
    const problems = problemsOf('targets: [./t17, $DIR/t17/, t17, file://$DIR/t17, ./link17, ./other]\n');
    expect(problems).toHaveLength(4);
    const real = path.join(dir, 't17');
    expect(problems[0]).toBe(
      `c.yaml:1:18: 'targets[1]' "${dir}/t17/" is the same place as 'targets[0]' "./t17" (1:11), ${real}: ` +
        "a run would store its backup there twice, and one copy's retention would delete the archive the other reported stored (list each target once)",
    );
    expect(problems.slice(1).map((p) => /'targets\[(\d)\]'.*'targets\[(\d)\]'/.exec(p)!.slice(1).join(' is '))).toEqual(['2 is 0', '3 is 0', '4 is 0']);
  });

  it("is checked in each job's list, and two lists may name one place", () => {
    const problems = problemsOf(
      'targets: [./t17]\njobs:\n  a: { targets: [./t17] }\n  b:\n    targets:\n      - ./other\n      - uri: ./link17/\n      - uri: ./other/\n',
    );
    expect(problems).toEqual([
      expect.stringMatching(/^c\.yaml:8:14: 'jobs\.b\.targets\[2\]' "\.\/other\/" is the same place as 'jobs\.b\.targets\[0\]' "\.\/other" \(6:9\)/),
    ]);
  });
});

describe('YAML the parser gives up on', () => {
  it('a value nested too deeply is a positioned problem, not the JavaScript error that stopped the parser', () => {
    const text = `targets: [./b]\njobs: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    const { config, problems } = checkConfigText('/c/deep.yaml', text, {});
    expect(config).toBeUndefined();
    expect(problems).toHaveLength(1);
    // The column is where the stack ran out, which depends on the stack size: only the line is fixed.
    expect(formatProblem(problems[0]!)).toMatch(/^\/c\/deep\.yaml:2:\d+: YAML syntax error: values are nested too deeply to read \(flatten this value\)$/);
  });
});

describe('${ENV} references', () => {
  it('expands set variables, defaults and $${literal} after parsing', () => {
    const { config } = check('valid', 'jobs.yaml');
    const s3 = config!.targets[1]!;
    expect(s3.options).toEqual({ endpoint: 'http://127.0.0.1:9000', secretAccessKey: 'sekret-value-42' });
    expect(config!.notifications![0]!.url).toBe('https://hc-ping.com/a1b2c3d4-uuid');
    expect(config!.jobs!.literal!.description).toBe('costs ${PRICE} per run');
    expect(config!.jobs!.databases!.notifications![0]).toMatchObject({ type: 'webhook', headers: { Authorization: 'Bearer none' } });
  });
  it('a set variable beats the default; relative paths resolve against the config file', () => {
    const { config } = check('valid', 'jobs.yaml', { ...env, S3_ENDPOINT: 'https://s3.example' });
    expect(config!.targets[1]!.options!.endpoint).toBe('https://s3.example');
    expect(config!.targets[0]!.uri).toBe(path.join(fixtures, 'valid', 'backups'));
    expect(config!.jobs!.databases!.targets).toEqual([{ uri: path.join(fixtures, 'valid', 'db-backups') }]);
  });
});

describe('jobs', () => {
  const config = check('valid', 'jobs.yaml').config!;

  it('inherit top-level settings and override them; vars merge per component', () => {
    const [nightly, databases] = effectiveJobs(config);
    expect(nightly).toMatchObject({
      name: 'nightly',
      cluster: 'prod-eu1',
      format: 'tar.gz',
      compress: 'remote',
      concurrency: 8,
      lockWait: 600,
      schedule: '0 2 * * *',
      retention: { keepDaily: 7 },
      components: { skip: ['kibana'], vars: { postgresql: { config_dir: '/etc/postgresql/15/main', port: 5432 } } },
    });
    expect(nightly!.targets.map((t) => path.basename(t.uri))).toEqual(['backups', 's3://bucket/prod'].map((u) => path.basename(u)));
    expect(nightly!.notifications[0]!.type).toBe('ping');
    expect(databases).toMatchObject({
      format: 'tar.zst',
      compress: 'local',
      lockWait: 60,
      retention: { keepLast: 8 },
      components: { only: ['postgresql'], skip: ['kibana'], vars: { postgresql: { config_dir: '/etc/postgresql/15/main', port: 5433 } } },
    });
    expect(databases!.notifications.map((n) => n.type)).toEqual(['webhook']);
  });

  it('without jobs the top level is the one job; several jobs need a name (usage error listing them)', () => {
    const minimal = check('valid', 'minimal.yaml').config!;
    expect(selectJob(minimal, undefined).name).toBe('default');
    const error = (() => {
      try {
        selectJob(config, undefined);
      } catch (e) {
        return e as LsError;
      }
    })();
    expect(error).toBeInstanceOf(LsError);
    expect(error!.exitCode).toBe(64);
    expect(error!.message).toContain('nightly, databases, literal');
    expect(() => selectJob(config, 'nope')).toThrow(/no job named 'nope'/);
    expect(selectJob(config, 'databases').name).toBe('databases');
  });

  it('are shown with secrets masked', () => {
    const redactor = createRedactor();
    const shown = JSON.stringify(maskConfig({ jobs: effectiveJobs(config) }, redactor));
    expect(shown).not.toContain('sekret-value-42');
    expect(shown).not.toContain('a1b2c3d4-uuid');
    expect(shown).not.toContain('Bearer none');
    expect(shown).toContain('https://hc-ping.com/***');
    expect(shown).toContain('"endpoint":"http://127.0.0.1:9000"');
  });

  it('show a secret reference by its name, the variable to set (was: secret: "***"), and mask a credential written as a value', () => {
    const options = { accessKeyId: { secret: 'S3_ACCESS_KEY_ID' }, secretAccessKey: 'written-in-the-config' };
    const shown = JSON.stringify(maskConfig({ targets: [{ uri: 's3://bucket/prod', options }] }, createRedactor()));
    expect(shown).toContain('"accessKeyId":{"secret":"S3_ACCESS_KEY_ID"}');
    expect(shown).toContain('"secretAccessKey":"***"');
    expect(shown).not.toContain('written-in-the-config');
  });
});

describe('config schema', () => {
  it('describes every property', () => {
    const undocumented: string[] = [];
    const visit = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const schema = node as Record<string, unknown>;
      for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (!child.description) undocumented.push(`${at}/properties/${key}`);
      }
      for (const [key, child] of Object.entries(schema)) if (key !== 'examples') visit(child, `${at}/${key}`);
    };
    visit(configSchema, '#');
    expect(undocumented).toEqual([]);
  });

  it('generates an annotated sample that validates, and validates with every section enabled', () => {
    const sample = configSample();
    expect(sample).toContain('# Named jobs run by `lsbackup run --job NAME`');
    expect(checkConfigText('sample.yaml', sample, {}).problems).toEqual([]);
    // Uncomment the optional sections (value lines are "# key:" or "#   ..." at column 0).
    const enabled = sample
      .split('\n')
      .map((l) => (/^# ([a-z]\w*:|  )/.test(l) && !/^# {2,}#/.test(l) && !/^# [A-Z]/.test(l) ? l.slice(2) : l))
      .join('\n');
    const { config, problems } = checkConfigText('sample.yaml', enabled, {});
    expect(problems).toEqual([]);
    expect(config!.notifications?.length).toBe(2);
    expect(config!.secrets?.sources?.length).toBe(2);
  });
});
