/**
 * Every shipped recipe that restores proves it: a recipe in recipes/ with a `restore:` must have a
 * `tests:` section (docs/recipes.md, "Testing a recipe"), run by its component test through
 * test/helpers/recipe-test.ts. A new recipe cannot be shipped without one.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipes } from '../../engine/recipes/index.js';

/**
 * Recipes whose tests: section is still being written on another branch.
 * lead: empty this after merging s7-rt-a/b
 */
const PENDING = ['elasticsearch', 'kafka', 'prometheus', 'zookeeper'];

const shipped = await loadRecipes([join(import.meta.dirname, '..', '..', 'recipes')]);

describe('shipped recipes', () => {
  it('are found', () => {
    expect(shipped.length).toBeGreaterThan(10);
  });

  for (const { recipe, file } of shipped) {
    const name = recipe.metadata.name;
    if (PENDING.includes(name)) {
      it(`${name} is still pending: it has no tests: section yet (once it has, remove it from PENDING)`, () => {
        expect(recipe.spec.tests, `${file} has a tests: section: remove '${name}' from PENDING`).toBeUndefined();
      });
    } else if (recipe.spec.restore) {
      it(`${name} restores, so it has a tests: section`, () => {
        expect(recipe.spec.tests, `${file} has a restore: but no tests: (docs/recipes.md, "Testing a recipe")`).toBeDefined();
      });
    }
  }

  it('PENDING names only shipped recipes', () => {
    const names = shipped.map((r) => r.recipe.metadata.name);
    expect(PENDING.filter((p) => !names.includes(p))).toEqual([]);
  });
});
