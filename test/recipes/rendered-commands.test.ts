/**
 * Where a spot in a rendered command (shellcheck's line:col) is in the recipe file: lines left
 * out by a false `{{#if}}`, values longer or shorter than their mustache, and one-line commands.
 */
import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../../engine/recipes/index.js';
import { recipePosition, renderedCommands, templateColumn } from '../../engine/recipes/rendered-commands.js';
import { parseYaml } from '../../engine/schema/index.js';
import { recipeYaml } from '../helpers/cli.js';

describe('templateColumn', () => {
  it('maps literal text past a substitution of another length back to the template', () => {
    // template: `cd {{vars.dir}} && ls $x`, rendered: `cd '/var/lib/a b' && ls $x`
    const template = 'cd {{vars.dir}} && ls $x';
    const rendered = "cd '/var/lib/a b' && ls $x";
    expect(templateColumn(template, rendered, rendered.indexOf('$x'))).toBe(template.indexOf('$x'));
    expect(templateColumn(template, rendered, 0)).toBe(0);
  });

  it('maps a column inside what a mustache rendered to where the mustache begins', () => {
    const template = 'echo {{{vars.cmd}}} done';
    const rendered = 'echo systemctl stop x done';
    expect(templateColumn(template, rendered, rendered.indexOf('stop'))).toBe(template.indexOf('{{{'));
    expect(templateColumn(template, rendered, rendered.indexOf('done'))).toBe(template.indexOf('done'));
  });
});

const recipeText = recipeYaml(
  'app',
  `hosts: { group: app }
vars: { dir: /var/lib/a-much-longer-directory, extra: "" }
backup:
  snapshot:
    - name: block
      run: |
        {{#if vars.extra}}
        echo {{vars.extra}}
        {{/if}}
        cd {{vars.dir}} && echo $undefined_thing
      output: x.txt
    - run: echo {{vars.dir}} $other_thing
`,
);

describe('recipePosition', () => {
  const { loaded } = parseRecipe('app.yaml', Buffer.from(recipeText));
  const { source } = parseYaml('app.yaml', recipeText);
  const commands = renderedCommands(loaded!);
  const fileLines = recipeText.split('\n');
  const at = (text: string) => {
    const line = fileLines.findIndex((l) => l.includes(text));
    return { line: line + 1, col: fileLines[line]!.indexOf(text) + 1 };
  };

  it('renders each command with the var defaults, a false #if leaving its lines out', () => {
    expect(commands.map((c) => c.path.join('.'))).toEqual(['spec.backup.snapshot.0.run', 'spec.backup.snapshot.1.run']);
    expect(commands[0]!.text).not.toContain('echo  ');
    expect(commands[0]!.text).toContain('cd /var/lib/a-much-longer-directory && echo $undefined_thing');
  });

  it('places a spot of a block command at its recipe line and column, past a left-out #if', () => {
    const block = commands[0]!;
    const lines = block.text.split('\n');
    const line = lines.findIndex((l) => l.includes('$undefined_thing')) + 1;
    const column = lines[line - 1]!.indexOf('$undefined_thing') + 1;
    expect(recipePosition(source, block, line, column)).toEqual(at('$undefined_thing'));
  });

  it('places a spot of a one-line command past a substitution', () => {
    const one = commands[1]!;
    expect(recipePosition(source, one, 1, one.text.indexOf('$other_thing') + 1)).toEqual(at('$other_thing'));
  });
});
