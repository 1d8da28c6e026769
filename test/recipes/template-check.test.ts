import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { formatProblem } from '../../engine/errors.js';
import { loadInventory } from '../../engine/inventory/index.js';
import { parseRecipe, recipeSchema } from '../../engine/recipes/index.js';
import { renderTemplate, templateHost, templateInventory, type TemplateContext } from '../../engine/template/index.js';

/** Every phase the recipe format has, read from the published schema (restore.after and restore.together say how, not what). */
const schemaPhases = (['backup', 'restore'] as const).flatMap((section) =>
  Object.keys(recipeSchema.properties.spec.properties[section].properties)
    .filter((key) => key !== 'after' && key !== 'together')
    .map((phase) => [section, phase] as const),
);

function recipeText(spec: Record<string, unknown>): Buffer {
  return Buffer.from(
    stringify({ apiVersion: 'lsbackup/v1', kind: 'Recipe', metadata: { name: 'demo', version: '1.0.0' }, spec: { hosts: { group: 'demo' }, ...spec } }),
  );
}

/** The names a template may use, as a template that uses each of them once. */
const everyName =
  '{{host.name}} {{host.address}} {{host.port}} {{host.user}} {{host.groups.[0]}} {{host.vars.site}} {{inventory.groups.demo.[0]}} {{inventory.hosts.[0]}} {{backup.id}} {{backup.time}} {{backup.timestamp}} {{recipe.name}} {{recipe.version}}';

describe('the recipe template check', () => {
  it('reports an unknown name in every phase the recipe schema has, backup and restore', () => {
    const spec: Record<string, Record<string, unknown[]>> = { backup: {}, restore: {} };
    for (const [section, phase] of schemaPhases) {
      spec[section]![phase] = [phase === 'collect' ? { path: `/{{host.nmae}}/${phase}` } : { run: `echo {{host.nmae}} ${section}-${phase}` }];
    }
    const { problems } = parseRecipe('demo.yaml', recipeText(spec));
    expect(schemaPhases.length).toBe(7);
    expect(problems).toHaveLength(schemaPhases.length);
    for (const problem of problems) expect(formatProblem(problem)).toContain("unknown template variable 'host.nmae' (did you mean 'host.name'?)");
  });

  it('accepts every name a template context carries, and each renders from the context a run builds', async () => {
    const { problems, loaded } = parseRecipe('demo.yaml', recipeText({ backup: { snapshot: [{ run: `echo ${everyName}`, output: 'names.txt' }] } }));
    expect(problems).toEqual([]);

    const dir = await mkdtemp(path.join(tmpdir(), 'lsbackup-template-names-'));
    try {
      await writeFile(path.join(dir, 'hosts.ini'), '[demo]\ndb1 ansible_host=10.0.0.5 ansible_port=2222 ansible_user=backup site=eu1\n');
      const inventory = await loadInventory(path.join(dir, 'hosts.ini'));
      const context: TemplateContext = {
        host: templateHost(inventory.hosts.get('db1')!),
        vars: {},
        inventory: templateInventory(inventory),
        backup: { id: 'b-1', time: '2026-01-01T00:00:00.000Z', timestamp: 1767225600000 },
        recipe: { name: loaded!.recipe.metadata.name, version: loaded!.recipe.metadata.version },
        run: { components: {} },
        secrets: new Map(),
      };
      const rendered = renderTemplate(everyName, context, { recipe: 'demo', step: 'names', host: 'db1' }, { shell: false });
      expect(rendered).toBe('db1 10.0.0.5 2222 backup demo eu1 db1 db1 b-1 2026-01-01T00:00:00.000Z 1767225600000 demo 1.0.0');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('still refuses names no template sees, a misspelt helper and a secret in an entry name', () => {
    const { problems } = parseRecipe(
      'demo.yaml',
      recipeText({
        backup: { snapshot: [{ run: 'echo {{backup.date}} {{host.vars}} {{eqq 1 2}}', output: 'dump-{{secret "PW"}}.sql' }] },
        restore: { apply: [{ files: '{{recipe.id}}' }] },
      }),
    );
    expect(problems.map((p) => p.message)).toEqual([
      "unknown template variable 'backup.date'",
      "unknown template helper 'eqq'",
      "a secret cannot be used in 'output': it would become part of file and entry names, which are stored unmasked",
      "unknown template variable 'recipe.id'",
    ]);
  });
});
