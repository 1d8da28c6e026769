/**
 * Each entry metadata.json lists lies under the directory of a component it lists
 * (`<component>/<host>/…`, docs/archive-format.md), but the carried recipes. Restore finds a
 * component's data by that directory alone: a component renamed in metadata.json (with its
 * sidecar and `.sha256`, which an unsigned backup lets anyone redo) leaves its entries
 * belonging to none, and the renamed component's steps without their data. `verify` and
 * `restore` both read metadata.json through parseMetadata, which refuses it with these words.
 */
import type { BackupMetadata } from './metadata.js';
import { RECIPES_PREFIX } from './reserved-entries.js';

/** Why the entries are not where the components are, or undefined when each is under one. */
export function entriesOutsideComponents(metadata: Pick<BackupMetadata, 'components' | 'entries'>): string | undefined {
  const names = new Set(metadata.components.map((c) => c.name));
  const stray = metadata.entries.find((e) => !e.path.startsWith(`${RECIPES_PREFIX}/`) && !names.has(e.path.slice(0, e.path.indexOf('/'))));
  if (!stray) return undefined;
  const top = stray.path.includes('/') ? `'${stray.path.slice(0, stray.path.indexOf('/'))}/'` : 'no directory';
  const listed = names.size > 0 ? `its components are ${[...names].map((n) => `'${n}'`).join(', ')}` : 'it lists no component';
  return `entry '${stray.path}' is under ${top}, which is no component of the backup (${listed}): each component's entries lie under its name, and restore finds them by it`;
}
