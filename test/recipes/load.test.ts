import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatProblem, LsError } from '../../engine/errors.js';
import { loadRecipes, recipeSchema, validateRecipes } from '../../engine/recipes/index.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const invalidDir = join(fixtures, 'invalid');
const expected = parse(readFileSync(join(import.meta.dirname, 'invalid-expected.yaml'), 'utf8')) as Record<string, string[]>;

describe('loadRecipes', () => {
  it('loads every valid recipe in a directory, several versions of one name side by side', async () => {
    const loaded = await loadRecipes([join(fixtures, 'valid')]);
    expect(loaded.map((l) => `${l.recipe.metadata.name}@${l.recipe.metadata.version}`).sort()).toEqual(['haproxy@1.0.0', 'haproxy@1.1.0', 'postgresql@1.0.0']);
    const pg = loaded.find((l) => l.recipe.metadata.name === 'postgresql')!;
    const bytes = readFileSync(pg.file);
    expect(pg.digest).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(pg.source).toBe(bytes.toString('utf8'));
    expect(pg.recipe.spec.restore?.apply?.[0]).toEqual({ files: '{{vars.config_dir}}' });
  });

  for (const [fixture, messages] of Object.entries(expected)) {
    it(`reports every problem of ${fixture} with file:line:col`, async () => {
      const { problems } = await validateRecipes([join(invalidDir, fixture)]);
      expect(problems.map((p) => formatProblem({ ...p, file: relative(invalidDir, p.file) }).replaceAll(invalidDir + '/', ''))).toEqual(messages);
    });
  }

  it('throws one EINVALID (exit 78) listing the problems of all files at once', async () => {
    const error = await loadRecipes([invalidDir]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LsError);
    const lsError = error as LsError;
    expect(lsError.code).toBe('EINVALID');
    expect(lsError.exitCode).toBe(78);
    const total = Object.values(expected).reduce((n, list) => n + list.length, 0);
    expect((lsError.details.problems as unknown[]).length).toBe(total);
    expect(lsError.message).toContain("schema.yaml:11:5: unknown key 'snapshto'");
    expect(lsError.message).toContain("template.yaml:13:56: unknown template variable 'host.nmae'");
  });

  it('reports a path that does not exist', async () => {
    const { problems } = await validateRecipes([join(fixtures, 'nope.yaml')]);
    expect(problems).toEqual([{ file: join(fixtures, 'nope.yaml'), message: 'no such file or directory' }]);
  });
});

describe('recipe schema', () => {
  it('describes every property and forbids unknown keys in every object', () => {
    const undocumented: string[] = [];
    const open: string[] = [];
    const visit = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const schema = node as Record<string, unknown>;
      if (schema.properties) {
        for (const [key, child] of Object.entries(schema.properties as Record<string, Record<string, unknown>>)) {
          if (!child.description && !child.$ref) undocumented.push(`${path}/properties/${key}`);
        }
        if (schema.additionalProperties !== false) open.push(path);
      }
      for (const [key, child] of Object.entries(schema)) if (key !== 'examples') visit(child, `${path}/${key}`);
    };
    visit(recipeSchema, '#');
    expect(undocumented).toEqual([]);
    expect(open).toEqual([]);
  });
});
