// Only the functions used: the package's index loads all ~50 of its modules at every start-up.
import coerce from 'semver/functions/coerce.js';
import compare from 'semver/functions/compare.js';
import compareBuild from 'semver/functions/compare-build.js';
import satisfies from 'semver/functions/satisfies.js';
import validRange from 'semver/ranges/valid.js';
import type { LoadedRecipe } from './types.js';

/**
 * Several versions of one recipe may live side by side (postgresql 1.x for PostgreSQL < 13,
 * 2.x for >= 13). `metadata.appliesTo` is a semver range matched against the component version
 * the recipe's `version` command printed.
 */

/** Recipes grouped by name, each group newest version first. */
export function recipeFamilies(recipes: LoadedRecipe[]): LoadedRecipe[][] {
  const byName = new Map<string, LoadedRecipe[]>();
  for (const r of recipes) {
    const list = byName.get(r.recipe.metadata.name) ?? [];
    list.push(r);
    byName.set(r.recipe.metadata.name, list);
  }
  return [...byName.values()].map((list) => list.sort((a, b) => compareVersions(b.recipe.metadata.version, a.recipe.metadata.version)));
}

export function compareVersions(a: string, b: string): number {
  return compare(coerce(a) ?? '0.0.0', coerce(b) ?? '0.0.0') || compareBuild(a, b);
}

/** The version inside a command's output ("psql (PostgreSQL) 15.4 (Debian 15.4-1)" -> 15.4.0). */
export function componentSemver(printed: string | undefined): string | undefined {
  return printed === undefined ? undefined : (coerce(printed)?.version ?? undefined);
}

/**
 * The newest variant whose `appliesTo` accepts the component version. A variant without
 * `appliesTo` accepts any version; when the version is unknown, the newest variant is used.
 */
export function chooseVariant(variants: LoadedRecipe[], printedVersion: string | undefined): { recipe?: LoadedRecipe; problem?: string } {
  const version = componentSemver(printedVersion);
  if (version === undefined) return { recipe: variants[0] };
  const match = variants.find((v) => {
    const range = v.recipe.metadata.appliesTo;
    return range === undefined || satisfies(version, range, { includePrerelease: true });
  });
  if (match) return { recipe: match };
  const offered = variants.map((v) => `${v.recipe.metadata.version} (appliesTo ${v.recipe.metadata.appliesTo})`).join(', ');
  return {
    problem: `no version of recipe ${variants[0]!.recipe.metadata.name} applies to component version ${printedVersion!.trim()} (${version}); available: ${offered}`,
  };
}

/** A problem message when `range` is not a semver range, else undefined. */
export function appliesToProblem(range: string | undefined): string | undefined {
  if (range === undefined || validRange(range) !== null) return undefined;
  return `'${range}' is not a semver range (examples: ">=13 <16", "^2.4", "3.x")`;
}
