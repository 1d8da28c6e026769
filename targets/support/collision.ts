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

/** The first of name, name_1, name_2... for which `taken` says false. */
export async function firstFreeName(name: string, taken: (candidate: string) => Promise<boolean>): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = nameWithSuffix(name, n);
    if (!(await taken(candidate))) return candidate;
  }
}
