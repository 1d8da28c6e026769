/**
 * Every metadata.json lsbackup reads back (list, show, verify, restore; the `<name>.metadata.json`
 * sidecar or the archive's last entry) goes through here: checked against
 * schemas/metadata.schema.json before anything trusts a field of it, and its entries against its
 * components (entry-components.ts).
 */
import type { Readable } from 'node:stream';
import schema from '../../schemas/metadata.schema.json' with { type: 'json' };
import { LsError, type Problem } from '../errors.js';
import { validateValue } from '../schema/index.js';
import { lsbackupVersion } from '../version.js';
import { MAX_METADATA_BYTES, readLimited } from './limits.js';
import { readMetadataHeadText } from './metadata-head.js';
import { METADATA_FORMAT, type BackupMetadata, type MetadataHead } from './metadata.js';
import { METADATA_ENTRY } from './writer.js';
import { entriesOutsideComponents } from './entry-components.js';

/** Problems named in the error; a foreign file can have hundreds. */
const SHOWN_PROBLEMS = 5;

/**
 * The schema as a reader applies it: the same shapes and values, but keys it does not know are
 * let through. Within a format (lsbackup-metadata/v1) fields are only ever added, as optional
 * ones, so a backup written by a newer lsbackup still reads here; `format` changes when that no
 * longer holds. Older backups lack only optional fields, so they read as well.
 */
export const metadataReadSchema = withUnknownKeys({ ...schema, $id: 'https://lsbackup.dev/schemas/metadata.read.schema.json' });

function withUnknownKeys<T>(node: T): T {
  if (Array.isArray(node)) return node.map(withUnknownKeys) as T;
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'additionalProperties' && value === false))
      .map(([key, value]) => [key, withUnknownKeys(value)]),
  ) as T;
}

/**
 * metadata.json's text, parsed and validated. `from` names what was read (the archive entry or the
 * sidecar object). Throws EMETADATA naming the backup and the first problems.
 */
export function parseMetadata(text: string | Buffer, backup: string, from: string = METADATA_ENTRY): BackupMetadata {
  const { value, problems } = validateValue<BackupMetadata>(from, parseJson(text, backup, from), metadataReadSchema);
  if (!value) throw metadataError(backup, from, problems);
  const stray = entriesOutsideComponents(value);
  if (stray) throw metadataError(backup, from, [{ file: from, message: stray }]);
  return value;
}

/**
 * As parseMetadata, without the entry list: a listing of every backup uses none of it, and
 * checking 100,000 entries of each backup took longer than reading them. The entries are checked
 * to be a list, not each one; show, verify, restore and an incremental's base read the whole.
 */
export function parseMetadataHead(text: string | Buffer, backup: string, from: string = METADATA_ENTRY): MetadataHead {
  const data = parseJson(text, backup, from);
  const entries = (data as { entries?: unknown } | null)?.entries;
  const { value, problems } = validateValue<BackupMetadata>(from, Array.isArray(entries) ? { ...(data as object), entries: [] } : data, metadataReadSchema);
  if (!value) throw metadataError(backup, from, problems);
  const { entries: _entries, ...head } = value;
  return head;
}

/** A metadata.json stream (a sidecar) read only up to its entry list, which is then not downloaded (metadata-head.ts), as parseMetadataHead. */
export async function readMetadataHead(body: Readable, backup: string, from: string): Promise<MetadataHead> {
  return parseMetadataHead(await readMetadataHeadText(body, MAX_METADATA_BYTES, from), backup, from);
}

/** A whole metadata.json stream (within MAX_METADATA_BYTES), as parseMetadata. */
export async function readMetadata(body: Readable, backup: string, from: string): Promise<BackupMetadata> {
  return parseMetadata(await readLimited(body, MAX_METADATA_BYTES, from), backup, from);
}

/** The text as JSON, refused when it is not, or in another format than this lsbackup reads. */
function parseJson(text: string | Buffer, backup: string, from: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(String(text));
  } catch (e) {
    throw metadataError(backup, from, [{ file: from, message: `is not JSON: ${(e as Error).message}` }]);
  }
  const format = (data as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && format !== METADATA_FORMAT && format.startsWith('lsbackup-metadata/')) {
    const writer = (data as { lsbackupVersion?: unknown }).lsbackupVersion;
    throw metadataError(backup, from, [{ file: from, message: `is in format ${format}; this lsbackup (${lsbackupVersion}) reads ${METADATA_FORMAT}` }], {
      fix: `read it with the lsbackup that wrote it${typeof writer === 'string' ? ` (${writer})` : ''} or a newer one`,
    });
  }
  return data;
}

/** The archive's metadata.json entry, read (within MAX_METADATA_BYTES) and validated. */
export async function readMetadataEntry(body: Readable, backup: string): Promise<BackupMetadata> {
  return parseMetadata(await readLimited(body, MAX_METADATA_BYTES, METADATA_ENTRY), backup);
}

function metadataError(backup: string, from: string, problems: Problem[], extra: { fix?: string } = {}): LsError {
  const more = problems.length - SHOWN_PROBLEMS;
  return new LsError('EMETADATA', { backup, from, problems: problems.slice(0, SHOWN_PROBLEMS), more: Math.max(0, more), ...extra });
}
