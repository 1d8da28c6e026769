import { createReadStream } from 'node:fs';
import { counted } from '../catalog/objects.js';
import { PassThrough, type Readable } from 'node:stream';
import pLimit from 'p-limit';
import { appendEntry, createTarContainer } from '../archive/containers.js';
import { DEFAULT_BLOCK_SIZE } from '../archive/block-writer.js';
import { normaliseEntry, type NormalisedEntry } from '../archive/entry.js';
import { sparseMemberBody } from '../archive/tar/sparse.js';
import { hostPathInArchive } from '../runner/entry-paths.js';
import { describeFailure } from '../runner/step-result.js';
import type { Executor, RunOptions } from '../executors/types.js';
import type { StagedBackup, StagedEntry } from './stage.js';
import type { BodyStream, OpenBodies } from './second-pass.js';
import { directoriesOnTheWay, whyLinkRefused } from './host-links.js';
import { describeMissingOwners, ownerNames } from './host-owners.js';
import { askDestination } from './destination-check.js';
import { extractCommand, tarKeepsHoles } from './host-tar.js';

/**
 * A `files:` restore step: the staged entries under one collected path, streamed as one tar into
 * the host's own tar. Three rules keep it writing backed-up content only, where it belongs:
 * - a hardlink is sent as a link only when its target is in the same stream (sent before it), else
 *   as a copy of the target's staged content (a link to the host's live file would restore nothing);
 * - setuid/setgid bits are stripped unless the operator asked for them (--keep-special-modes), but
 *   a directory keeps setgid (it only passes the directory's group on to new files);
 * - just before the write, every directory on the way to each entry is checked ON THE HOST for
 *   symbolic links: none at or below the collected path, whoever made it (another component's
 *   restore, the host itself); above it only the host's own layout (./host-links.ts);
 * - owners go by name, and every user and group name the files carry must exist on the host, else
 *   nothing is written (./host-owners.ts): tar would fall back to the backed-up numbers.
 */

/** setuid and setgid: a restored file must not gain privileges without the operator saying so. */
export const SPECIAL_MODE_BITS = 0o6000;

/**
 * The special bits stripped from an entry without --keep-special-modes. A directory keeps setgid:
 * there it grants nothing, it makes files created inside take the directory's group (a shared
 * data directory), and without it a restored service writes files its peers cannot read.
 */
export function strippedModeBits(entry: { type: string }): number {
  return entry.type === 'directory' ? SPECIAL_MODE_BITS & ~0o2000 : SPECIAL_MODE_BITS;
}

/** Staged entries of a collected path (the path itself and everything below it), in archive order. */
export function filesUnder(staged: StagedBackup, component: string, sourceHost: string, hostPath: string): StagedEntry[] {
  const base = hostPathInArchive(component, sourceHost, hostPath);
  return [...staged.entries.values()].filter((s) => s.entry.path === base || s.entry.path.startsWith(base + '/'));
}

/** Host paths of the entries whose mode carries setuid/setgid bits that are stripped by default. */
export function specialModePaths(selected: StagedEntry[], component: string, sourceHost: string): string[] {
  const root = hostPathInArchive(component, sourceHost, '/');
  return selected.filter((s) => s.entry.type !== 'symlink' && (s.entry.mode & strippedModeBits(s.entry)) !== 0).map((s) => s.entry.path.slice(root.length));
}

/**
 * File writes on one host happen one step at a time, so the link check of one step and its tar
 * are never interleaved with another component's tar creating a link on the way.
 */
export class HostWriteQueues {
  private readonly queues = new Map<string, ReturnType<typeof pLimit>>();
  run<T>(host: string, work: () => Promise<T>): Promise<T> {
    let queue = this.queues.get(host);
    if (!queue) this.queues.set(host, (queue = pLimit(1)));
    return queue(work);
  }
}

/** What a restore step tells the live progress as its data goes to the host. */
export interface HostCounters {
  bytes: (bytes: number) => void;
  entry: () => void;
}

export type FilesStepResult = { ok: true; bytes: number; exitCode?: number } | { ok: false; error: string; exitCode?: number };

export async function restoreFiles(
  executor: Executor,
  staged: StagedBackup,
  step: { component: string; sourceHost: string; hostPath: string; optional: boolean; keepSpecialModes: boolean },
  run: RunOptions,
  /** Told of the bytes and of each entry as they go to the host (progress). */
  count: HostCounters,
  /** Stream mode: bodies come from a second pass over the archive, nothing is staged. */
  openBodies?: OpenBodies,
): Promise<FilesStepResult> {
  const selected = filesUnder(staged, step.component, step.sourceHost, step.hostPath);
  if (selected.length === 0) {
    if (step.optional) return { ok: true, bytes: 0 };
    return {
      ok: false,
      error: `the backup holds no collected files under '${step.hostPath}' for host ${step.sourceHost} (was the path collected, and did it exist at backup time? A step restoring an optional collect says optional: true)`,
    };
  }
  const root = hostPathInArchive(step.component, step.sourceHost, '/');
  // A collect that failed mid-file and went on (onError: continue) left its host a success and
  // the file zero-filled: its bytes never reach the host, nor does the rest of its path.
  const incomplete = selected.filter((s) => s.incomplete).map((s) => `'${s.entry.path.slice(root.length)}'`);
  if (incomplete.length > 0) {
    return {
      ok: false,
      error: `${incomplete.slice(0, 3).join(', ')}${incomplete.length > 3 ? ` and ${incomplete.length - 3} more` : ''} was stored incomplete (its collect step failed at backup time and the recipe went on; lsbackup verify says why): nothing written under '${step.hostPath}'; restore a path without it`,
    };
  }
  // Files with holes go as sparse members when the host's tar extracts them as holes.
  const withHoles = selected.some((s) => s.dataRegions ?? (s.entry.type === 'hardlink' && staged.entries.get(s.entry.linkpath ?? '')?.dataRegions));
  const destination = await askDestination(executor, { dirs: directoriesOnTheWay(selected, root), owners: ownerNames(selected, root) }, run);
  if (destination.failed) {
    return {
      ok: false,
      error: `could not check the destination on the host (symbolic links on the way, owners): ${describeFailure(destination.failed, destination.failed.stderr)}`,
      exitCode: destination.failed.exitCode,
    };
  }
  for (const link of destination.links) {
    const why = whyLinkRefused(link, { collectedPath: step.hostPath, stepUid: destination.stepUid, staged, sourceHost: step.sourceHost });
    if (why) return { ok: false, error: `refusing to write under '${step.hostPath}' ${why}` };
  }
  // Owners go by name; a name the host lacks would make tar fall back to the backed-up number.
  if (destination.missingOwners.length > 0) return { ok: false, error: describeMissingOwners(destination.missingOwners, step.hostPath) };
  const sparse = withHoles && tarKeepsHoles(destination.tarVersion);
  const sending = sendList(selected, staged);
  const streamed = openBodies?.(sending.filter((s) => s.entry.type === 'file' && !s.file).map((s) => s.bodyOf));
  try {
    // One tar stream into the host's tar: owners, modes, mtimes and links come back as they were.
    const result = await executor.run(extractCommand(destination.tarVersion), {
      ...run,
      stdin: counted(tarStreamOf(sending, root, { keepSpecialModes: step.keepSpecialModes, sparse, streamed, onEntry: count.entry }), count.bytes),
    });
    // A body cut short because the archive changed: the host's tar may have ended without noticing.
    const cut = streamed?.failure();
    if (cut) return { ok: false, error: cut, exitCode: result.exitCode };
    if (result.failed) return { ok: false, error: describeFailure(result, result.stderr), exitCode: result.exitCode };
    return { ok: true, bytes: selected.reduce((n, s) => n + s.entry.size, 0), exitCode: result.exitCode };
  } finally {
    streamed?.close();
  }
}

/**
 * A plain tar of staged entries with paths relative to the host's '/'; with `sparse`, a file with
 * holes is a sparse member. A file not staged takes the next body of `streamed` (stream mode).
 */
function tarStreamOf(
  sending: SentEntry[],
  root: string,
  options: { keepSpecialModes: boolean; sparse: boolean; streamed?: BodyStream; onEntry: () => void },
): Readable {
  const { keepSpecialModes } = options;
  const strip = (p: string) => p.slice(root.length + 1);
  const output = new PassThrough({ highWaterMark: DEFAULT_BLOCK_SIZE });
  const container = createTarContainer(output);
  (async () => {
    for (const { entry, file, dataRegions } of sending) {
      const mode = keepSpecialModes ? entry.mode : entry.mode & ~strippedModeBits(entry);
      const normalised: NormalisedEntry & { size: number } = {
        ...normaliseEntry({ ...entry, mode, path: strip(entry.path), linkpath: entry.type === 'hardlink' ? strip(entry.linkpath ?? '') : entry.linkpath }),
        size: entry.type === 'file' ? entry.size : 0,
      };
      if (entry.type === 'file' && file && dataRegions && options.sparse) {
        const member = sparseMemberBody(file, dataRegions, entry.size);
        await appendEntry(container, { ...normalised, size: member.size, sparse: { realSize: entry.size } }, member.body);
      } else {
        const body = entry.type !== 'file' ? undefined : file ? createReadStream(file) : await options.streamed!.next();
        await appendEntry(container, normalised, body);
      }
      options.onEntry();
    }
    container.end();
  })().catch((e: Error) => output.destroy(e));
  return output;
}

/** An entry as it goes into the host's tar; `bodyOf`: the entry whose body it carries. */
type SentEntry = StagedEntry & { bodyOf: string };

/**
 * The entries as sent: a hardlink whose target is not in this stream becomes a regular file with
 * the target's content (staging guarantees the target is a stored or referenced file). A link
 * whose target comes later (an incremental's unchanged file, staged from its base after the
 * newest archive's entries) goes after it.
 */
function sendList(selected: StagedEntry[], staged: StagedBackup): SentEntry[] {
  const paths = new Set(selected.map((s) => s.entry.path));
  const seen = new Set<string>();
  const later = (s: StagedEntry) => s.entry.type === 'hardlink' && paths.has(s.entry.linkpath ?? '') && !seen.has(s.entry.linkpath ?? '');
  const ordered: StagedEntry[] = [];
  const deferred: StagedEntry[] = [];
  for (const s of selected) {
    (later(s) ? deferred : ordered).push(s);
    seen.add(s.entry.path);
  }
  const sent = new Set<string>();
  return [...ordered, ...deferred].map((item) => {
    const { entry } = item;
    const linked = entry.type !== 'hardlink' || sent.has(entry.linkpath ?? '');
    sent.add(entry.path);
    if (linked) return { ...item, bodyOf: entry.path };
    const target = staged.entries.get(entry.linkpath ?? '');
    if (target?.entry.type !== 'file') throw new Error(`hardlink '${entry.path}': its target '${entry.linkpath}' is not a stored file`);
    const copy = { ...entry, type: 'file' as const, linkpath: undefined, size: target.entry.size };
    return { entry: copy, file: target.file, dataRegions: target.dataRegions, bodyOf: target.entry.path };
  });
}
