/**
 * What a stored archive's entries must keep to for restore to take the backup, checked in
 * archive order: by the writer (writer.ts), which leaves such an entry out and fails its step, so
 * a backup is never stored in a shape restore refuses; by restore's staging pass
 * (engine/restore/stage.ts), which refuses the whole backup at the first entry that breaks one;
 * and by `verify` (verify.ts), which reports each (a backup written before the writer checked).
 * One set of rules, so that a backup `verify` passes is one restore accepts (was: verify checked
 * the digests only, and passed a backup restore refused whole, e.g. a file collected through a
 * symbolic link that another collect step of the same host stored as a link).
 */
import path from 'node:path';
import type { ReadEntrySpec } from './reader.js';
import type { EntryRecord } from './types.js';
import { METADATA_ENTRY, SIGNATURE_ENTRY } from './reserved-entries.js';

export interface EntryRules {
  /** The reader skipped a member of a kind lsbackup never writes (a device, a FIFO): its onUnsupportedEntry. */
  unsupported(path: string, type: string): void;
  /** Why the next entry in archive order breaks a rule; undefined when it keeps them. */
  check(entry: Pick<ReadEntrySpec, 'path' | 'type' | 'linkpath'>): string | undefined;
  /** After the last entry, with metadata.json's records: why a hardlink has nothing to link to. */
  finish(records: readonly EntryRecord[]): string | undefined;
}

export function entryRules(): EntryRules {
  const seen = new Set<string>();
  const symlinks = new Set<string>();
  // Regular files seen so far: the only things a hardlink may point at.
  const regularFiles = new Set<string>();
  const linksToReferences: Pick<ReadEntrySpec, 'path' | 'linkpath'>[] = [];
  let unsupported: string | undefined;
  let metadataSeen = false;
  // A rule the whole archive broke (a special file, entries after metadata.json) is said once, at
  // the first entry that shows it, as restore refuses there: verify repeated it for every later entry.
  let archiveRuleSaid = false;
  const once = (message: string) => (archiveRuleSaid ? undefined : ((archiveRuleSaid = true), message));
  return {
    unsupported: (p, type) => void (unsupported ??= `${p} (${type})`),
    check(entry) {
      if (unsupported) return once(`the archive holds a special file, which lsbackup never writes: ${unsupported}`);
      if (metadataSeen) return once(`'${entry.path}' comes after metadata.json, which must be the last entry`);
      const unsafe = pathProblem(entry.path);
      if (unsafe) return unsafe;
      if (seen.has(entry.path)) return `duplicate entry '${entry.path}'`;
      seen.add(entry.path);
      // Each ancestor looked up, not each stored link scanned: a tree may hold thousands of links.
      for (let slash = entry.path.indexOf('/'); slash !== -1; slash = entry.path.indexOf('/', slash + 1)) {
        const ancestor = entry.path.slice(0, slash);
        if (symlinks.has(ancestor)) {
          return `'${entry.path}' would be written through the symbolic link '${ancestor}' (collect the link's target, not a path through the link)`;
        }
      }
      if (entry.path === METADATA_ENTRY) metadataSeen = true;
      if (entry.path === METADATA_ENTRY || entry.path === SIGNATURE_ENTRY) return undefined;
      if (entry.type === 'symlink' || entry.type === 'hardlink') {
        const escape = linkProblem(entry);
        if (escape) return escape;
        if (entry.type === 'symlink') symlinks.add(entry.path);
        // A link to anything else would make the host's tar link to a live file on the host; an
        // incremental's link may point at an unchanged file (a reference: checked in finish()).
        if (entry.type === 'hardlink' && !regularFiles.has(entry.linkpath ?? '')) linksToReferences.push(entry);
      }
      if (entry.type === 'file') regularFiles.add(entry.path);
      return undefined;
    },
    finish(records) {
      const references = new Set(records.filter((e) => e.ref !== undefined && e.type === 'file').map((e) => e.path));
      const link = linksToReferences.find((l) => !references.has(l.linkpath ?? ''));
      return link
        ? `hardlink '${link.path}' -> '${link.linkpath}': its target is not a file stored before it in the backup, nor an unchanged file of an incremental`
        : undefined;
    },
  };
}

function pathProblem(p: string): string | undefined {
  // A backslash is an ordinary byte of a POSIX file name (`back\slash`), not a separator.
  if (p.startsWith('/') || p.split('/').some((s) => s === '..' || s === '' || s === '.') || p.includes('\0')) {
    return `unsafe entry path '${p}' (absolute, or with '..' or empty parts)`;
  }
  return undefined;
}

/**
 * Collected files mirror a host's filesystem under `<component>/<host>/files/`, which stands
 * for that host's '/'. A link may point anywhere inside that tree, never above it; outside
 * files/ no links are expected at all. A symbolic link is read as the host's kernel reads it:
 * an absolute target from the tree's root, a relative one from the link's directory, with '..'
 * stopping at the root (`../../../etc/hostname` in /srv is /etc/hostname on the host, and was
 * refused as "escaping" although it is valid there: the host's backup of that component failed).
 * So a symbolic link can name nothing above the tree, and only a hardlink (an archive path) can.
 */
function linkProblem(entry: Pick<ReadEntrySpec, 'path' | 'type' | 'linkpath'>): string | undefined {
  const parts = entry.path.split('/');
  const isFilesTree = parts.length > 3 && parts[2] === 'files';
  if (!isFilesTree) return `link '${entry.path}' outside a collected files tree`;
  if (entry.type === 'symlink') return undefined;
  const root = parts.slice(0, 3).join('/');
  const target = entry.linkpath ?? '';
  const resolved = path.posix.normalize(target);
  if (resolved !== root && !resolved.startsWith(root + '/')) return `link '${entry.path}' -> '${target}' escapes its directory ${root}/`;
  return undefined;
}
