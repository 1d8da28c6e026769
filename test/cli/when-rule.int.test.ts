/**
 * One rule decides a step's `when` (docs/recipes.md, "When a step runs"): the rendered text is
 * false when empty or one of Ansible's false words, whatever the value came from: a `--var`
 * (a typed YAML scalar: `false` and `0` arrive as boolean and number, `off` and `no` as strings),
 * an inventory variable (INI text) or the recipe's default. Checked through the built CLI's plan.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliOutput, recipeYaml, runCli, workspace, jsonEvents } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => ws.cleanup());

const falseWords = ['off', 'OFF', 'no', 'No', 'n', 'f', 'false', 'False', '0', '0.0', ''];
const trueWords = ['on', 'yes', 'y', 'true', '1', 'primary'];

describe('when', () => {
  it('is false for empty text and every Ansible false word from --var, inventory or defaults, true for anything else', async () => {
    const all = [...falseWords, ...trueWords];
    const steps = all.map((_, i) => `      - { name: v${i}, run: echo ${i}, when: "{{vars.v${i}}}" }`);
    await ws.write(
      'recipes/app.yaml',
      recipeYaml(
        'app',
        `hosts: { group: app }
vars: { ${all.map((_, i) => `v${i}: "x"`).join(', ')}, ini_off: "yes", default_no: "no" }
backup:
  snapshot:
${steps.join('\n')}
      - { name: ini, run: echo ini, when: "{{vars.ini_off}}" }
      - { name: default, run: echo default, when: "{{vars.default_no}}" }
`,
      ),
    );
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local ini_off=off\n');
    const vars = all.flatMap((w, i) => ['--var', `app.v${i}=${w}`]);
    const r = await runCli(['plan', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '--json', ...vars]);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    const components = jsonEvents<{ hosts: { steps: { name: string; enabled: boolean }[] }[] }>(r.stdout, 'plan.component');
    const enabled = Object.fromEntries(components[0]!.hosts[0]!.steps.map((s) => [s.name, s.enabled]));
    const expected = Object.fromEntries([...all.map((w, i) => [`v${i}`, trueWords.includes(w)]), ['ini', false], ['default', false]]);
    expect(enabled).toEqual(expected);
  });
});
