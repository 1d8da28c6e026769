/**
 * Reading what a backup stored, for assertions: the archives in a target directory, their
 * metadata.json sidecars, and entries read with the system tar (not the engine's reader, so a
 * test checks the archive as any other tool would see it).
 */
import { execa } from 'execa';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { BackupMetadata, ComponentHostRecord, ComponentRecord } from '../../engine/archive/index.js';
import { parseMetadata } from '../../engine/archive/read-metadata.js';

/** Archive file names in `target`, oldest first (names sort by time); none when it does not exist. */
export async function archivesIn(target: string): Promise<string[]> {
  try {
    return (await readdir(target)).filter((n) => /\.(tar\.gz|tar\.zst|zip)$/.test(n)).sort();
  } catch {
    return [];
  }
}

/** The archive's metadata.json sidecar, read as lsbackup reads it back (validated against its schema). */
export async function readMetadata(archive: string): Promise<BackupMetadata> {
  return parseMetadata(await readFile(`${archive}.metadata.json`, 'utf8'), path.basename(archive), `${path.basename(archive)}.metadata.json`);
}

export interface StoredBackup {
  file: string;
  meta: BackupMetadata;
}

/** The one archive in `target` with its metadata (fails the test if there is not exactly one). */
export async function storedBackup(target: string): Promise<StoredBackup> {
  const names = await archivesIn(target);
  expect(names).toHaveLength(1);
  const file = path.join(target, names[0]!);
  return { file, meta: await readMetadata(file) };
}

/** One entry's bytes (tar detects the compression). */
export async function archiveEntryBytes(archive: string, entry: string): Promise<Buffer> {
  return Buffer.from((await execa('tar', ['-xOf', archive, entry], { encoding: 'buffer', stripFinalNewline: false })).stdout);
}

/** One entry's content as text, exactly as stored (a final newline is kept). */
export async function archiveEntry(archive: string, entry: string): Promise<string> {
  return (await archiveEntryBytes(archive, entry)).toString('utf8');
}

/** One text entry's lines, without the empty one after a final newline. */
export async function archiveLines(archive: string, entry: string): Promise<string[]> {
  return (await archiveEntry(archive, entry)).replace(/\n$/, '').split('\n');
}

/** Every member name of the archive as `tar -t` lists it (directories end in `/`). */
export async function archiveEntries(archive: string): Promise<string[]> {
  return (await execa('tar', ['-tf', archive])).stdout.split('\n').filter(Boolean);
}

export function componentOf(metadata: BackupMetadata, name: string): ComponentRecord {
  const c = metadata.components.find((x) => x.name === name);
  if (!c) throw new Error(`metadata has no component ${name}: ${metadata.components.map((x) => x.name).join(', ')}`);
  return c;
}

export function hostOf(component: ComponentRecord, host: string): ComponentHostRecord {
  const h = component.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`component ${component.name} has no host ${host}`);
  return h;
}

/** Size of an entry as metadata.json records it (undefined: no such entry). */
export function entrySize(metadata: BackupMetadata, entry: string): number | undefined {
  return metadata.entries.find((e) => e.path === entry)?.size;
}

/**
 * Extracts the archive with the system tar and checks every regular file's sha256 (sha256sum)
 * against metadata.json, so a corrupt or unlisted entry fails the test.
 * Returns the extraction dir.
 */
export async function verifyWithSystemTools(backup: StoredBackup, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  await execa('tar', ['-xf', backup.file, '-C', into]);
  const listed = (await archiveEntries(backup.file)).map((p) => p.replace(/\/$/, ''));
  // An entry flagged with `error` (its body broke after the header was written) is known bad
  // and must not be trusted; the caller asserts on those.
  const files = backup.meta.entries.filter((e) => e.type === 'file' && !e.error);
  const sums = (
    await execa(
      'sha256sum',
      files.map((e) => e.path),
      { cwd: into },
    )
  ).stdout.split('\n');
  const byPath = new Map(sums.map((l) => [l.slice(66), l.slice(0, 64)]));
  for (const e of files) {
    expect(byPath.get(e.path), `sha256 of ${e.path}`).toBe(e.sha256);
  }
  // Every member of the tar is described by metadata (metadata.json itself aside).
  const described = new Set(backup.meta.entries.map((e) => e.path));
  expect(listed.filter((p) => p !== 'metadata.json' && !described.has(p))).toEqual([]);
  return into;
}

/**
 * Backups `a` and `b` of directory `dir` swapped under each other's names: each archive with all
 * its sidecars (every object whose name begins with the archive's), as an operator's mix-up leaves them.
 */
export async function swapBackups(dir: string, a: string, b: string): Promise<void> {
  const objects = async (name: string) => (await readdir(dir)).filter((n) => n.startsWith(name));
  const [ofA, ofB] = [await objects(a), await objects(b)];
  for (const n of ofA) await rename(path.join(dir, n), path.join(dir, `${n}.swapping`));
  for (const n of ofB) await rename(path.join(dir, n), path.join(dir, a + n.slice(b.length)));
  for (const n of ofA) await rename(path.join(dir, `${n}.swapping`), path.join(dir, b + n.slice(a.length)));
}
