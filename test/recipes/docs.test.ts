import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { docsPath, regenerate, renderReference } from '../../scripts/gen-recipe-docs.mjs';
import { recipeSchema } from '../../engine/recipes/index.js';

describe('docs/recipes.md', () => {
  it('has the reference section exactly as generated from the schema', () => {
    const docs = readFileSync(docsPath, 'utf8');
    expect(regenerate(docs, recipeSchema)).toBe(docs);
  });

  it('documents every step key from the schema descriptions', () => {
    const reference = renderReference(recipeSchema) as string;
    for (const key of Object.keys(recipeSchema.$defs.commandStep.properties)) expect(reference).toContain(`| \`${key}\``);
    expect(reference).toContain(recipeSchema.$defs.collectStep.properties.exclude.description);
  });
});
