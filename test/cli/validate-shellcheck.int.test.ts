/**
 * `lsbackup validate --shellcheck` through the built CLI with the real shellcheck (Debian
 * package): a finding lands at the recipe's file:line:col with its code, message and wiki link,
 * as text and as --json events; --shellcheck-severity chooses what fails; every shipped recipe
 * is clean; without shellcheck on the PATH it fails naming the package, it never skips.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => ws.cleanup());

const withFinding = recipeYaml(
  'app',
  `hosts: { group: app }
vars: { dir: /var/lib/a-much-longer-directory-name, extra: "" }
backup:
  snapshot:
    - name: dump
      run: |
        {{#if vars.extra}}
        echo {{vars.extra}}
        {{/if}}
        cd {{vars.dir}} && echo "$never_set"
      output: x.txt
`,
);

/** 1-based line and column of `text` in the recipe. */
function positionOf(recipe: string, text: string): { line: number; col: number } {
  const lines = recipe.split('\n');
  const line = lines.findIndex((l) => l.includes(text));
  return { line: line + 1, col: lines[line]!.indexOf(text) + 1 };
}

describe('validate --shellcheck', () => {
  it('reports a finding at the recipe file:line:col with code, message and wiki link, and fails', async () => {
    const file = await ws.write('recipes/app.yaml', withFinding);
    const { line, col } = positionOf(withFinding, '$never_set');
    const r = await runCli(['validate', '--shellcheck', file]);
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toContain(`${file}:${line}:${col}: SC2154 (warning): never_set is referenced but not assigned`);
    expect(r.stderr).toContain('https://www.shellcheck.net/wiki/SC2154');

    const json = await runCli(['validate', '--shellcheck', '--json', file]);
    expect(json.exitCode, cliOutput(json)).toBe(78);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      type: 'shellcheck',
      file,
      line,
      column: col,
      code: 'SC2154',
      level: 'warning',
      recipe: 'app',
      wiki: 'https://www.shellcheck.net/wiki/SC2154',
    });
    expect(lines.find((l) => l.type === 'validate.result')).toMatchObject({ valid: false, shellcheck: { severity: 'warning', findings: 1 } });
    expect(lines.at(-1)).toMatchObject({ type: 'error', exitCode: 78 });

    // Without --shellcheck the recipe is valid: the lint is asked for, never implied.
    expect((await runCli(['validate', file])).exitCode).toBe(0);
  });

  it('fails only on findings at --shellcheck-severity or worse (default warning)', async () => {
    // SC2086 (unquoted expansion) is an info finding.
    const recipe = recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: ls $HOME\n      output: x.txt\n`);
    const file = await ws.write('recipes/app.yaml', recipe);
    const lenient = await runCli(['validate', '--shellcheck', file]);
    expect(lenient.exitCode, cliOutput(lenient)).toBe(0);
    const strict = await runCli(['validate', '--shellcheck', '--shellcheck-severity', 'info', file]);
    expect(strict.exitCode, cliOutput(strict)).toBe(78);
    const { line, col } = positionOf(recipe, '$HOME');
    expect(strict.stderr).toContain(`${file}:${line}:${col}: SC2086 (info):`);
  });

  it('finds nothing in the shipped recipes', async () => {
    const r = await runCli(['validate', '--shellcheck']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toMatch(/shellcheck clean/);
  });

  it('without shellcheck on the PATH fails naming the Debian package', async () => {
    const file = await ws.write('recipes/app.yaml', withFinding);
    // A PATH with node and nothing else.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'lsb-nopath-'));
    try {
      symlinkSync(process.execPath, path.join(bin, 'node'));
      const r = await runCli(['validate', '--shellcheck', file], { env: { PATH: bin } });
      expect(r.exitCode, cliOutput(r)).toBe(78);
      expect(r.stderr).toMatch(/install the Debian package shellcheck/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
