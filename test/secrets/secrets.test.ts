import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LsError } from '../../engine/errors.js';
import { ChainSecretSource, CommandSecretSource, createRedactor, EnvSecretSource, FileSecretSource } from '../../engine/secrets/index.js';
import { jsonLine } from '../../engine/report/json-lines.js';
import { tooShortToMask } from '../../engine/secrets/redactor.js';
import { renderTemplate, shellQuote } from '../../engine/template/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsbackup-secrets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function secretsFile(name: string, text: string, mode: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: LsError) => e.code,
  );

describe('secret sources', () => {
  it('env: by name or through a mapping', async () => {
    const env = { PG_PASSWORD: 'pw1', VAULT_PG: 'pw2' };
    expect(await new EnvSecretSource({}, env).resolve('PG_PASSWORD')).toBe('pw1');
    expect(await new EnvSecretSource({ PG_PASSWORD: 'VAULT_PG' }, env).resolve('PG_PASSWORD')).toBe('pw2');
    expect(await code(new EnvSecretSource({}, env).resolve('NOPE'))).toBe('ESECRET');
  });

  it('file: reads YAML/JSON name: value from a private file', async () => {
    const yamlFile = await secretsFile('s.yaml', 'PG_PASSWORD: "s3cret"\nPORT: 5432\n', 0o600);
    expect(await new FileSecretSource(yamlFile).resolve('PG_PASSWORD')).toBe('s3cret');
    expect(await new FileSecretSource(yamlFile).resolve('PORT')).toBe('5432');
    const jsonFile = await secretsFile('s.json', '{"TOKEN": "t0ken"}', 0o400);
    expect(await new FileSecretSource(jsonFile).resolve('TOKEN')).toBe('t0ken');
  });

  it('file: refuses a world-readable file with a clear error', async () => {
    const path = await secretsFile('open.yaml', 'PG_PASSWORD: x\n', 0o644);
    const error = await new FileSecretSource(path).resolve('PG_PASSWORD').catch((e: LsError) => e);
    expect(error).toBeInstanceOf(LsError);
    expect((error as LsError).message).toBe(
      `Secret 'PG_PASSWORD' could not be resolved: secrets file ${path}: is readable by other users (mode 644); run chmod 600 ${path}`,
    );
  });

  it('file: a value YAML cannot read is reported by position, never quoted, and nothing is printed', async () => {
    // Unquoted passwords starting with * or ! are YAML aliases and tags; the parser's own messages and
    // warnings quote them (`Unresolved alias ...: Sup3rS3cret`, the whole line of `!unsafe 'Sup3rS3cret'`).
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      for (const [i, text] of ['PG_PASSWORD: *Sup3rS3cret\n', "A: 1\nPG_PASSWORD: !unsafe 'Sup3rS3cret'\n", 'PG_PASSWORD: !Sup3rS3cret\n'].entries()) {
        const path = await secretsFile(`tagged-${i}.yaml`, text, 0o600);
        const error = await new FileSecretSource(path).resolve('PG_PASSWORD').catch((e: LsError) => e);
        expect(error).toBeInstanceOf(LsError);
        expect((error as LsError).message).toMatch(/is not valid YAML\/JSON.*quote a value/);
        expect((error as LsError).message).not.toContain('Sup3rS3cret');
      }
      expect(warnings).not.toHaveBeenCalled();
    } finally {
      warnings.mockRestore();
    }
  });

  it('command: stdout without its final newline, run without a shell', async () => {
    const source = new CommandSecretSource(['printf', '%s\\n', 'value-of-{name};$(id)']);
    expect(await source.resolve('DB')).toBe('value-of-DB;$(id)');
    expect(await new CommandSecretSource(['sh', '-c', 'printf %s "$LSBACKUP_SECRET_NAME"', 'sh']).resolve('X')).toBe('X');
    expect(await code(new CommandSecretSource(['false']).resolve('DB'))).toBe('ESECRET');
  });

  it('chain: first source that has it wins; a broken source stops the chain', async () => {
    const file = await secretsFile('chain.yaml', 'B: from-file\n', 0o600);
    const chain = new ChainSecretSource([new EnvSecretSource({}, { A: 'from-env' }), new FileSecretSource(file)]);
    expect(await chain.resolve('A')).toBe('from-env');
    expect(await chain.resolve('B')).toBe('from-file');
    await expect(chain.resolve('C')).rejects.toThrow(/environment variable C is not set; not in secrets file/);
    const open = await secretsFile('chain-open.yaml', 'C: x\n', 0o604);
    const broken = new ChainSecretSource([new FileSecretSource(open), new EnvSecretSource({}, { C: 'env' })]);
    await expect(broken.resolve('C')).rejects.toThrow(/readable by other users/);
  });
});

describe('redactor', () => {
  const marker = `MARKER-'s3cr"t\\ $x`;

  it('a marker secret never survives redact() in any encoding', () => {
    const redactor = createRedactor();
    redactor.add(marker, 'secret X');
    const quoted = shellQuote(marker);
    const forms = [marker, quoted, JSON.stringify(marker), JSON.stringify(quoted), JSON.stringify({ cmd: `psql -c ${quoted}` })];
    for (const form of forms) {
      const out = redactor.redact(`before ${form} after`);
      expect(out).not.toContain('MARKER');
      expect(out).toContain('***');
    }
    const deep = redactor.redactValue({ steps: [{ command: `echo ${quoted}`, env: { PW: marker } }], n: 1 });
    expect(JSON.stringify(deep)).not.toContain('MARKER');
    expect(deep.n).toBe(1);
  });

  it('knows whether it has anything to mask (a JSON line with no secret known is printed as it is)', () => {
    const redactor = createRedactor();
    expect(redactor.hasSecrets()).toBe(false);
    redactor.add('ab', 'secret X'); // too short to be masked anywhere
    expect(redactor.hasSecrets()).toBe(false);
    redactor.add(marker, 'secret X');
    expect(redactor.hasSecrets()).toBe(true);
    expect(JSON.parse(jsonLine({ type: 'entry', component: 'c', host: 'h', path: `p/${marker}`, size: 1 }, redactor)).path).toBe('p/***');
  });

  it('masks a secret rendered into a command and ignores very short values', async () => {
    const redactor = createRedactor();
    const value = await new EnvSecretSource({}, { PW: marker }).resolve('PW');
    redactor.add(value, 'secret X');
    const secrets = new Map([['PW', value]]);
    const context = {
      host: { name: 'h', address: 'h', port: 22, groups: [], vars: {} },
      vars: {},
      inventory: { groups: {}, hosts: [] },
      backup: { id: 'b', time: 't', timestamp: 0 },
      recipe: { name: 'r', version: '1.0.0' },
      run: { components: {} },
      secrets,
    };
    const where = { recipe: 'r', step: 's', host: 'h' };
    // In a command the secret is an environment reference: the value is not there at all.
    expect(renderTemplate('psql -c {{secret "PW"}}', context, where)).not.toContain(marker);
    // Where it is inserted verbatim (an env value), the redactor masks it in anything printed.
    expect(redactor.redact(`PGPASSWORD=${renderTemplate('{{secret "PW"}}', context, where, { shell: false })}`)).toBe('PGPASSWORD=***');
    redactor.add('ab', 'secret X');
    expect(redactor.redact('ab cab')).toBe('ab cab');
  });

  it('masks each line of a value with line breaks: output is cut into lines, so none holds it whole', () => {
    const redactor = createRedactor();
    const value = `line-One-x1\r\n  line 'Two' x2 \n`;
    redactor.add(value, 'secret X');
    const forms = [
      value,
      JSON.stringify(value), // a JSON event or metadata of the whole value
      shellQuote(value),
      'exit code 4: pw is line-One-x1 | line', // a failure's last lines joined, the first line trimmed of its CR
      "line 'Two' x2", // the second line, trimmed as a step tail is
      JSON.stringify("line 'Two' x2"),
      shellQuote("line 'Two' x2"),
    ];
    for (const form of forms) expect(redactor.redact(form), form).not.toMatch(/line-One|Two/);
  });

  it('keeps the settings whose value is too short to be masked, named, for the run to warn of once', () => {
    const redactor = createRedactor();
    redactor.add('ab', "secret 'PIN'");
    redactor.add('long-enough\nxy', 'notification webhook headers.X-Token');
    redactor.add('long-enough', 'target s3://b/p option secretAccessKey');
    expect(redactor.takeUnmaskable()).toEqual(["secret 'PIN'", 'notification webhook headers.X-Token']);
    expect(redactor.takeUnmaskable()).toEqual([]);
  });

  it('says which values have a part too short to be masked', () => {
    expect(tooShortToMask('abc')).toBe(true);
    expect(tooShortToMask('abc\n')).toBe(true);
    expect(tooShortToMask('long-enough\nab')).toBe(true);
    expect(tooShortToMask('abcd')).toBe(false);
    expect(tooShortToMask('long-enough\r\n')).toBe(false);
    expect(tooShortToMask('')).toBe(false);
  });
});
