import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LsError } from '../../engine/errors.js';
import { renderTemplate, secretEnvName, secretNames, shellQuote, type TemplateContext } from '../../engine/template/index.js';

const where = { recipe: 'postgresql', step: 'dump', host: 'pg1' };

function context(vars: Record<string, unknown> = {}, secrets: Record<string, string> = {}): TemplateContext {
  return {
    host: { name: 'pg1', address: '127.0.0.1', port: 22, user: 'backup', groups: ['postgresql'], vars: { role: 'primary' } },
    vars,
    inventory: { groups: { postgresql: ['pg1', 'pg2'] }, hosts: ['pg1', 'pg2'] },
    backup: { id: 'lsbackup-c-20250101T000000Z', time: '2025-01-01T00:00:00Z', timestamp: 1735689600 },
    recipe: { name: 'postgresql', version: '1.0.0' },
    run: { components: {} },
    secrets: new Map(Object.entries(secrets)),
  };
}

const sh = (command: string): string => execFileSync('sh', ['-c', command], { encoding: 'utf8' });

const HOSTILE = ["'; rm -rf / #", '$(echo pwned)', '`echo pwned`', 'a b\tc\nd', 'it\'s "quoted" \\ back', '*', '', '-n', 'A=b', '~root'];

describe('renderTemplate shell quoting', () => {
  it("renders '; rm -rf / # as one literal argument that sh prints exactly", () => {
    const value = "'; rm -rf / #";
    const command = renderTemplate('printf %s {{vars.x}}', context({ x: value }), where);
    expect(sh(command)).toBe(value);
  });

  it.each(HOSTILE)('keeps %j one word with the same bytes', (value) => {
    const command = renderTemplate('set -- {{vars.x}}; printf "%s|%s" "$#" "$1"', context({ x: value }), where);
    expect(sh(command)).toBe(`1|${value}`);
  });

  it('passes secrets by environment reference, quotes json like any value, joins lists as separate words', () => {
    const ctx = context({ dirs: ['/etc/a b', '/etc/c'], obj: { k: "it's" } }, { PW: "p'w $x" });
    // A secret in a command is a reference to the variable the runner passes with the step:
    // the value never appears on the command line.
    const command = renderTemplate('printf "[%s]" {{secret "PW"}}', ctx, where);
    expect(command).toBe('printf "[%s]" "$LSB_SECRET_PW"');
    expect(execFileSync('sh', ['-c', command], { encoding: 'utf8', env: { ...process.env, [secretEnvName('PW')]: "p'w $x" } })).toBe("[p'w $x]");
    expect(renderTemplate('{{secret "PW"}}', ctx, where, { shell: false })).toBe("p'w $x");
    expect(sh(renderTemplate('printf "[%s]" {{join vars.dirs}}', ctx, where))).toBe('[/etc/a b][/etc/c]');
    expect(sh(renderTemplate('printf %s {{json vars.obj}}', ctx, where))).toBe(`{"k":"it's"}`);
  });

  it('leaves safe words bare and inserts triple-stache raw', () => {
    expect(renderTemplate('tar -C {{vars.dir}} -cf - .', context({ dir: '/var/lib/pg_15.2' }), where)).toBe('tar -C /var/lib/pg_15.2 -cf - .');
    expect(renderTemplate('ls {{{vars.glob}}}', context({ glob: '/etc/*.conf' }), where)).toBe('ls /etc/*.conf');
  });

  it('inserts values verbatim with shell: false (env values, entry names)', () => {
    expect(renderTemplate('{{secret "PW"}}', context({}, { PW: 'a b' }), where, { shell: false })).toBe('a b');
  });

  it('supports the logic helpers and built-ins', () => {
    const ctx = context({ port: 5432 });
    expect(renderTemplate('{{#if (and (eq host.vars.role "primary") (not (ne vars.port 5432)))}}yes{{else}}no{{/if}}', ctx, where)).toBe('yes');
    expect(renderTemplate('{{default host.vars.missing "fallback"}}', ctx, where)).toBe('fallback');
    expect(renderTemplate('{{#each inventory.groups.postgresql}}{{@index}}={{this}} {{/each}}', ctx, where)).toBe('0=pg1 1=pg2 ');
    expect(renderTemplate('{{lookup inventory.groups "postgresql"}}', ctx, where)).toBe('pg1 pg2');
  });
});

describe('values where single quotes do not quote', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lsb-render-places-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const canary = path.join(dir, 'canary');
  const hostile = `x'$(: > ${canary})\`: > ${canary}\`\n: > ${canary}\n'"`;
  // Each case sees only what it ran itself.
  beforeEach(() => rmSync(canary, { force: true }));
  const places: [string, string][] = [
    ['inside "…"', 'echo "no file {{vars.x}} here"'],
    ['inside $((…))', 'echo $(( 1 + {{vars.x}} ))'],
    ['in a here-document', 'cat <<EOF\nsee {{vars.x}}\nEOF'],
    ['in a here-document', "cat <<'EOF'\nsee {{vars.x}}\nEOF"],
    ['inside `…`', 'echo `echo {{vars.x}}`'],
    ['in a # comment', 'true # {{vars.x}}'],
    ['inside ${…}', 'echo ${unset_variable:-{{vars.x}} }'],
    ["inside '…'", "echo 'no file {{vars.x}} here'"],
    ['inside "…"', 'echo "$(echo a) and {{join vars.list}}"'],
  ];

  it.each(places)('%s: a value that needs quoting is refused, naming the place; nothing it holds runs', (where_, template) => {
    let command: string | undefined;
    let error: unknown;
    try {
      command = renderTemplate(template, context({ x: hostile, list: ['a', hostile] }), where);
    } catch (e) {
      error = e;
    }
    if (command !== undefined) execFileSync('sh', ['-c', command], { stdio: 'ignore' });
    expect(existsSync(canary), `ran: ${command}`).toBe(false);
    expect(error).toBeInstanceOf(LsError);
    expect((error as LsError).code).toBe('ETEMPLATE');
    expect((error as LsError).message).toContain(`stands ${where_} in this command, where shell quoting does not work`);
    // Not repeated: a value may be (part of) a secret, and a cut one would not be masked.
    expect((error as LsError).message).not.toContain(canary);
  });

  it('a plain value there is inserted as it is; a number in arithmetic; a secret inside "…" is its variable', () => {
    const ctx = context({ dir: '/var/lib/pg_15.2', n: 5, list: ['a', 'b.c'] }, { PW: 'p\'w $x "y"' });
    expect(sh(renderTemplate('echo "dir {{vars.dir}}, {{join vars.list}}"', ctx, where))).toBe('dir /var/lib/pg_15.2, a b.c\n');
    expect(sh(renderTemplate('echo $(( {{vars.n}} * 2 ))', ctx, where))).toBe('10\n');
    expect(sh(renderTemplate('cat <<EOF\nin {{vars.dir}}\nEOF', ctx, where))).toBe('in /var/lib/pg_15.2\n');
    expect(() => renderTemplate('echo $(( {{vars.dir}} * 2 ))', ctx, where)).toThrow(
      `'vars.dir' stands inside $((…)) in this command, where shell quoting does not work, and its value is not a whole number: give it a whole number`,
    );
    const command = renderTemplate('printf "[%s]" "user:{{secret "PW"}}"', ctx, where);
    expect(command).toBe('printf "[%s]" "user:${LSB_SECRET_PW}"');
    expect(execFileSync('sh', ['-c', command], { encoding: 'utf8', env: { ...process.env, [secretEnvName('PW')]: 'p\'w $x "y"' } })).toBe(`[user:p'w $x "y"]`);
  });

  it('everywhere quotes do work, any value stays one literal word', () => {
    const templates = [
      'set -- "$(printf %s {{vars.x}})"',
      'set -- {{vars.x}} $(( $(printf %s {{vars.x}} | wc -c) * 0 ))',
      "# it's a comment with an apostrophe\nset -- {{vars.x}}",
      'cat >/dev/null <<EOF\n"unbalanced\nEOF\nset -- {{vars.x}}',
      'v=a#b; set -- a#{{vars.x}}',
      '( set -- {{vars.x}}; printf "%s|%s" "$#" "$1" ) && exit 0',
    ];
    for (const template of templates) {
      const command = renderTemplate(`${template}; printf "%s|%s" "$#" "$1"`, context({ x: hostile }), where);
      const out = sh(command);
      expect(existsSync(canary), `ran: ${command}`).toBe(false);
      expect(out.endsWith(hostile) || out.endsWith(`a#${hostile}`), `${template} -> ${out}`).toBe(true);
    }
  });
});

describe('glob', () => {
  it('expands * and ? on the host and keeps everything else of the pattern literal, whatever it holds', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lsb-render-glob-'));
    try {
      for (const f of ['a.conf', 'b.conf', 'c.txt', 'sp ace/x.conf', "it's/y1.conf"]) {
        mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        writeFileSync(path.join(dir, f), '');
      }
      const canary = path.join(dir, 'canary');
      const hostile = `${dir}/$(: > ${canary})\`: > ${canary}\`*`;
      const patterns = [`${dir}/*.conf`, `${dir}/sp ace/*.conf`, `${dir}/it's/y?.conf`, hostile];
      const command = renderTemplate('printf "%s\\n" {{glob vars.g}} {{glob vars.one}}', context({ g: patterns, one: `${dir}/c.*` }), where);
      expect(sh(command).split('\n').filter(Boolean)).toEqual([
        `${dir}/a.conf`,
        `${dir}/b.conf`,
        `${dir}/sp ace/x.conf`,
        `${dir}/it's/y1.conf`,
        hostile, // matches nothing: the pattern itself, as sh leaves it
        `${dir}/c.txt`,
      ]);
      expect(existsSync(canary)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('renderTemplate errors', () => {
  it('names recipe, step, host and the missing variable', () => {
    const error = (() => {
      try {
        renderTemplate('pg_dump {{host.vars.dbname}}', context(), where);
      } catch (e) {
        return e as LsError;
      }
    })();
    expect(error).toBeInstanceOf(LsError);
    expect(error!.code).toBe('ETEMPLATE');
    expect(error!.message).toBe(
      "Recipe 'postgresql' step 'dump' on host 'pg1': 'host.vars.dbname' is not defined: the inventory gives this host no variable 'dbname'; " +
        'set it there, or write {{default host.vars.dbname "<fallback>"}}, or declare it in spec.vars with a default and use {{vars.dbname}}',
    );
  });

  it('refuses an unresolved secret and an unknown helper', () => {
    expect(() => renderTemplate('{{secret "NOPE"}}', context(), where)).toThrow("secret 'NOPE' was not resolved");
    expect(() => renderTemplate('{{shout vars.x}}', context({ x: 1 }), where)).toThrow(/unknown helper shout/);
  });
});

describe('secretNames and shellQuote', () => {
  it('finds every secret name statically, also in blocks and sub-expressions', () => {
    expect(secretNames('{{secret "A"}} {{#if host.name}}{{secret "B"}}{{/if}} {{join (secret "C")}} {{secret "A"}}')).toEqual(['A', 'B', 'C']);
  });

  it('quotes only what needs quoting', () => {
    expect(shellQuote('/etc/hosts')).toBe('/etc/hosts');
    expect(shellQuote('abc_1.2')).toBe('abc_1.2');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});
