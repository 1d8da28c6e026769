/**
 * The collision rule shared by every target: a taken name gets `_1`, `_2`... before its
 * extension (lsbackup-x-20260101T000000Z_1.tar.gz, also for .tar.zst.age and sidecars).
 */

// Multi-part extensions count as one: the suffix goes before `.tar.gz`, not before `.gz`.
const EXTENSION = /(\.(tar|gz|tgz|zst|zip|age|json|sha256))+$/;

export function nameWithSuffix(name: string, n: number): string {
  if (n === 0) return name;
  const match = EXTENSION.exec(name) ?? /\.[^./]+$/.exec(name);
  const cut = match && match.index > 0 ? match.index : name.length;
  return `${name.slice(0, cut)}_${n}${name.slice(cut)}`;
}

/** The names to try in turn: name, name_1... up to `max` with avoidCollision, else name alone. */
export function* candidateNames(name: string, avoidCollision: boolean, max: number): Generator<string> {
  for (let n = 0; n <= (avoidCollision ? max : 0); n++) yield nameWithSuffix(name, n);
}
