/**
 * Where things live inside an archive, in one place for backup and restore:
 *   <component>/<host>/<output>            command output (snapshot steps)
 *   <component>/<host>/files/<path>        collected files, <path> relative to the host's /
 *   lsbackup/recipes/<name>-<version>.yaml the recipes that made the backup
 */
import { RECIPES_PREFIX } from '../archive/reserved-entries.js';

/** A host name as one path segment; '.', '..' and '' would not be one, so they become underscores. */
export function hostSegment(host: string): string {
  if (host === '' || host === '.' || host === '..') return '_'.repeat(Math.max(1, host.length));
  return host.replace(/[/\\\0]/g, '_');
}

/**
 * hostSegment() is not injective ('a/b' and 'a_b' both become 'a_b'): two such hosts would
 * write the same entries. Refused before anything runs, naming both, rather than renamed.
 */
export function hostDirectoryClashes(hostNames: Iterable<string>): string[][] {
  const bySegment = new Map<string, string[]>();
  for (const name of hostNames) bySegment.set(hostSegment(name), [...(bySegment.get(hostSegment(name)) ?? []), name]);
  return [...bySegment.values()].filter((names) => names.length > 1);
}

export function hostPrefix(component: string, host: string): string {
  return `${component}/${hostSegment(host)}`;
}

export function filesPrefix(component: string, host: string): string {
  return `${hostPrefix(component, host)}/files`;
}

/** The entry for a step's `output`/`input` name; the name stays inside its component/host directory. */
export function outputEntryPath(component: string, host: string, name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) throw new Error(`entry name '${name}' must be a relative path without '..'`);
  return `${hostPrefix(component, host)}/${parts.join('/')}`;
}

/**
 * A host path relative to the host's / as the archive holds it: no leading or trailing '/' (tar
 * strips the leading one), and '//' is '/' — `{{vars.base}}/data` with a base ending in '/' names
 * the same directory, and tar sends its members as `base//data/…`.
 */
export function hostRelativePath(hostPath: string): string {
  let start = 0;
  let end = hostPath.length;
  while (start < end && hostPath.charCodeAt(start) === 0x2f) start++;
  while (end > start && hostPath.charCodeAt(end - 1) === 0x2f) end--;
  const trimmed = start === 0 && end === hostPath.length ? hostPath : hostPath.slice(start, end);
  return trimmed.includes('//') ? trimmed.replace(/\/{2,}/g, '/') : trimmed;
}

/** An absolute or relative host path as it appears under files/. */
export function hostPathInArchive(component: string, host: string, hostPath: string): string {
  const rel = hostRelativePath(hostPath);
  return rel === '' ? filesPrefix(component, host) : `${filesPrefix(component, host)}/${rel}`;
}

export { RECIPES_PREFIX };

export function recipeEntryPath(name: string, version: string): string {
  return `${RECIPES_PREFIX}/${name}-${version}.yaml`;
}
