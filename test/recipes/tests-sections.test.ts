/**
 * Every shipped recipe that restores proves it: a recipe in recipes/ with a `restore:` must have a
 * `tests:` section (docs/recipes.md, "Testing a recipe"), run by its component test through
 * test/helpers/recipe-test.ts. A new recipe cannot be shipped without one.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipes } from '../../engine/recipes/index.js';

const shipped = await loadRecipes([join(import.meta.dirname, '..', '..', 'recipes')]);

describe('shipped recipes', () => {
  it('are found', () => {
    expect(shipped.length).toBeGreaterThan(10);
  });

  for (const { recipe, file } of shipped) {
    const name = recipe.metadata.name;
    if (recipe.spec.restore) {
      it(`${name} restores, so it has a tests: section`, () => {
        expect(recipe.spec.tests, `${file} has a restore: but no tests: (docs/recipes.md, "Testing a recipe")`).toBeDefined();
      });
    }
  }
});
