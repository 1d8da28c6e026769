/**
 * Symbolic links on the way to a `files:` step's writes, asked of the host just before the write
 * (./destination-check.ts).
 *
 * At or below the collected path no link is followed: one there (another component's restore
 * made it, or the host did) would send backed-up content somewhere else. Above the collected
 * path a link is how the host is laid out — LambdaStack installs Kafka in
 * /opt/kafka_<scala>-<version> and links /opt/kafka to it, ZooKeeper likewise — and the backup
 * read the collected path through it, so the restore writes through it, provided that
 * - root or the step's own user owns it (an installer's link; a service user's link in a
 *   directory it owns would let that user choose where root writes), and
 * - this backup does not restore a link at that path (a component restored before this one
 *   would just have made it, which is the case the check exists for).
 * Not examined: what the allowed link's target passes through. A root link into a directory a
 * service user owns (`/opt/kafka -> /home/kafka/release`) lets that user redirect the writes, as
 * it lets that user redirect anything root does there; LambdaStack links into root's /opt.
 */
import path from 'node:path';
import { hostRelativePath, hostSegment } from '../runner/entry-paths.js';
import type { StagedBackup, StagedEntry } from './stage.js';

/**
 * Every host directory the entries are written in (each entry's ancestors, up to /), and the
 * directory entries themselves: each must be a real directory, not exist yet, or be a link the
 * rules above allow.
 */
export function directoriesOnTheWay(selected: StagedEntry[], root: string): string[] {
  const dirs = new Set<string>();
  for (const { entry } of selected) {
    let dir = entry.type === 'directory' ? entry.path.slice(root.length) : path.posix.dirname(entry.path.slice(root.length));
    while (dir !== '/' && dir !== '.' && !dirs.has(dir)) {
      dirs.add(dir);
      dir = path.posix.dirname(dir);
    }
  }
  return [...dirs];
}

/** A link the host has at one of the directories asked about, with its owner. */
export interface HostLink {
  path: string;
  uid: number;
}

/** Why the write may not go through `link`, by the rules above; undefined when it may. */
export function whyLinkRefused(
  link: HostLink,
  context: { collectedPath: string; stepUid: number; staged: StagedBackup; sourceHost: string },
): string | undefined {
  const collected = '/' + hostRelativePath(context.collectedPath);
  if (collected === '/' || link.path === collected || link.path.startsWith(collected + '/')) {
    return `through the symbolic link '${link.path}' on the host (remove or replace the link, then restore again)`;
  }
  const restoredBy = componentRestoringLink(context.staged, context.sourceHost, link.path);
  if (restoredBy !== undefined) {
    return `through the symbolic link '${link.path}' on the host, which this backup restores (component '${restoredBy}'): a link a restore writes is never followed (restore the two components separately, or collect the directory the link points to)`;
  }
  if (link.uid !== 0 && link.uid !== context.stepUid) {
    return `through the symbolic link '${link.path}' on the host: it is owned by uid ${link.uid}, and a link above a restored path is followed only when root or the step's user owns it (check where it points, then replace it with a link root owns or with the directory itself)`;
  }
  return undefined;
}

/** The component whose backed-up files hold a symbolic link at `hostPath` of `sourceHost`, if any. */
function componentRestoringLink(staged: StagedBackup, sourceHost: string, hostPath: string): string | undefined {
  const suffix = `/${hostSegment(sourceHost)}/files${hostPath}`;
  for (const [entryPath, { entry }] of staged.entries) {
    if (entry.type === 'symlink' && entryPath.endsWith(suffix) && entryPath.indexOf('/') === entryPath.length - suffix.length) {
      return entryPath.slice(0, entryPath.length - suffix.length);
    }
  }
  return undefined;
}
