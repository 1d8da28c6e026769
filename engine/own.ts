/**
 * Maps keyed by what users write (recipe vars, inventory vars, config overrides) have no prototype:
 * a key named `constructor`, `toString` or `__proto__` is just a key, never Object's builtin
 * (`--var constructor.keys=1` once replaced Object.keys; a var named `toString` rendered its source).
 */
export function ownMap<T = unknown>(...sources: (Readonly<Record<string, T>> | undefined)[]): Record<string, T> {
  const map = Object.create(null) as Record<string, T>;
  for (const source of sources) if (source) for (const key of Object.keys(source)) map[key] = source[key]!;
  return map;
}

/** `map[key]` only when the map itself holds the key (never an inherited builtin). */
export function ownValue<T>(map: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}
