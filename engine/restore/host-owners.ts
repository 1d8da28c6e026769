/**
 * Owners of the files a `files:` step writes, asked of the host just before the write
 * (./destination-check.ts).
 *
 * The host's tar (`--same-owner`) gives each file the user and group of its backed-up NAME when
 * the host knows the name, whatever number the host gave it: a rebuilt host whose `postgres` is
 * uid 112 where the old one had 105 gets the files right. A name the host does not know makes
 * tar fall back to the backed-up NUMBER, which on a rebuilt host is nobody's or, worse, another
 * account's (a service user created in another order): the data would belong to it, silently.
 * So a name that the host lacks refuses the write, naming it; the fix is to create the user or
 * group first (the component's package or Ansible role does), as the old host had it.
 */
import type { StagedEntry } from './stage.js';

/** A user or group name the written files carry, with its backed-up number and a file it owns. */
export interface OwnerName {
  kind: 'user' | 'group';
  name: string;
  id: number;
  /** A host path of a file owned by it, and how many files it owns in the step. */
  example: string;
  files: number;
}

/** The user and group names of `selected` (host paths: entry path without `root`), in first-seen order. */
export function ownerNames(selected: StagedEntry[], root: string): OwnerName[] {
  const owners = new Map<string, OwnerName>();
  const note = (kind: OwnerName['kind'], name: string | undefined, id: number | undefined, entryPath: string) => {
    if (!name) return;
    const key = `${kind}:${name}`;
    const known = owners.get(key);
    if (known) known.files += 1;
    else owners.set(key, { kind, name, id: id ?? 0, example: entryPath.slice(root.length), files: 1 });
  };
  for (const { entry } of selected) {
    note('user', entry.uname, entry.uid, entry.path);
    note('group', entry.gname, entry.gid, entry.path);
  }
  return [...owners.values()];
}

/** The step's error for owners the host lacks. */
export function describeMissingOwners(missing: OwnerName[], hostPath: string): string {
  const each = missing.map(
    (o) =>
      `${o.kind} '${o.name}' (${o.kind === 'user' ? 'uid' : 'gid'} ${o.id} at backup time; owns '${o.example}'${o.files > 1 ? ` and ${o.files - 1} more` : ''})`,
  );
  return (
    `refusing to write under '${hostPath}': the host has no ${each.join(', ')}, so its tar would give those files to whichever account ` +
    `has that number here, or to none. Create the missing user(s) and group(s) first (the component's package or Ansible role does), then restore again`
  );
}
