/**
 * An incremental backup's unchanged files are references to the older backup that holds their
 * bytes (docs/incremental.md). Before any host is touched, every backup the references need is
 * found by following `base` from the newest, read once and checked like the newest (every entry
 * against its own metadata, the archive against the sha256 its child recorded), and the
 * referenced bodies are staged; each must have the size and sha256 the NEWEST metadata records.
 * The result looks like a full backup to the rest of restore.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BackupMetadata, EntryRecord } from '../archive/index.js';
import { LsError } from '../errors.js';
import { heldPath } from '../archive/held-path.js';
import { baseMismatch } from '../catalog/chain-base.js';
import type { BackupSource } from './source.js';
import { refuseForeignSidecars } from './sidecars.js';
import { recordedBlocks, stageBackup, type StagedBackup, type StagedEntry, type VerifiedArchive } from './stage.js';

export interface ChainOptions {
  stagingDir: string;
  /** Components whose bodies restore needs. */
  components: (name: string) => boolean;
  /** Stream mode: bases are verified only, nothing staged; restore reads them again (restore/second-pass.ts). */
  stream?: boolean;
}

/** The newest backup with every reference it needs staged from the chain; a full comes back as it is. */
export async function stageChain(newest: StagedBackup, source: BackupSource, options: ChainOptions): Promise<StagedBackup> {
  const needed = referencesByHolder(newest.metadata, options.components);
  if (needed.size === 0) return newest;
  const refuse = (message: string): never => {
    throw new LsError('ERESTORE', { backup: source.name, message });
  };
  const entries = new Map(newest.entries);
  const bases: VerifiedArchive[] = [];
  let child: { name: string; metadata: BackupMetadata } = { name: source.name, metadata: newest.metadata };
  const visited = new Set([newest.metadata.backupId]);
  for (let depth = 1; needed.size > 0; depth++) {
    const base = child.metadata.base;
    if (base && visited.has(base.backupId)) refuse(`its chain of bases loops back to backup ${base.backupId} at ${child.name}`);
    if (!base) {
      const [holder, refs] = [...needed][0]!;
      return refuse(`'${refs[0]!.path}' refers to backup ${holder}, which is not in its chain of bases (the chain ends at ${child.name})`);
    }
    const member = source.sibling(base.archive);
    if (!(await member.exists())) {
      return refuse(
        `its chain needs ${base.archive} (backup ${base.backupId}, the base of ${child.name}), which is not in the target; restore a full backup or a chain that is whole`,
      );
    }
    const refs = needed.get(base.backupId) ?? [];
    const wanted = new Set(refs.map(heldPath));
    const stagingDir = path.join(options.stagingDir, `base-${depth}`);
    await mkdir(stagingDir, { recursive: true, mode: 0o700 });
    // Read before the archive is opened: an await between opening it and reading it would leave a
    // failure of the opened stream (a small encrypted base that does not decrypt) with no listener,
    // and the process would die of it (cleanup not run) instead of refusing the restore.
    const expectedSha256 = await member.sidecarSha256(source.name);
    const opened = await member.openMeasured();
    const staged = await stageBackup(opened.stream, {
      backup: member.name,
      format: member.format,
      stagingDir,
      components: () => false,
      bodies: (p) => !options.stream && wanted.has(p),
      expectedSha256,
      storedSha256: opened.storedSha256,
      recordBlocks: options.stream,
    });
    if (staged.metadata.backupId !== base.backupId) {
      refuse(`${base.archive} is backup ${staged.metadata.backupId}, but ${child.name} was based on backup ${base.backupId}: the base was replaced`);
    }
    const replaced = baseMismatch(base, child.name, staged.archiveSha256);
    if (replaced) refuse(replaced);
    await refuseForeignSidecars(member, staged, source.name);
    const records = new Map(staged.metadata.entries.map((e) => [e.path, e]));
    for (const ref of refs) {
      const held = heldPath(ref);
      entries.set(ref.path, { ...heldEntry(ref, staged.entries.get(held), records.get(held), refuse), holder: member.name });
    }
    if (options.stream) bases.push({ name: member.name, order: staged.order, blocks: recordedBlocks(staged, member.name) });
    needed.delete(base.backupId);
    visited.add(base.backupId);
    child = { name: member.name, metadata: staged.metadata };
  }
  return { ...newest, entries, bases };
}

/** The references of the selected components, grouped by the backup holding their bytes. */
function referencesByHolder(metadata: BackupMetadata, selected: (component: string) => boolean): Map<string, EntryRecord[]> {
  const byHolder = new Map<string, EntryRecord[]>();
  for (const e of metadata.entries) {
    if (e.ref === undefined || !selected(e.path.split('/')[0]!)) continue;
    byHolder.set(e.ref, [...(byHolder.get(e.ref) ?? []), e]);
  }
  return byHolder;
}

/** A referenced file as staged from its holder, checked against the newest metadata's record of it. */
function heldEntry(ref: EntryRecord, held: StagedEntry | undefined, record: EntryRecord | undefined, refuse: (message: string) => never): StagedEntry {
  // Staged, or (stream mode) a regular file whose body the second pass reads.
  if (held?.entry.type !== 'file' || !record || record.ref !== undefined || record.error) {
    return refuse(`'${ref.path}' refers to backup ${ref.ref}, which does not hold its bytes${heldPath(ref) !== ref.path ? ` as '${heldPath(ref)}'` : ''}`);
  }
  if (record.size !== ref.size || record.sha256 !== ref.sha256) {
    return refuse(
      `'${ref.path}' in backup ${ref.ref} has sha256 ${record.sha256} (${record.size} bytes); the newest metadata expects ${ref.sha256} (${ref.size} bytes)`,
    );
  }
  // The holder's header (owner, type, mode, time), with the mode and time the newest record has of
  // its own (a content-addressed output's time; older incrementals repeated the holder's).
  const own = { ...(ref.mode !== undefined ? { mode: ref.mode } : {}), ...(ref.mtime !== undefined ? { mtime: new Date(ref.mtime) } : {}) };
  return { ...held, entry: { ...held.entry, path: ref.path, ...own } };
}
