/**
 * Sizes the writing and the reading side agree on: what a backup writes, verify and restore
 * read. The writer refuses to finish an archive past them (the run fails before anything is
 * published); the readers use the same numbers.
 */
import type { Readable } from 'node:stream';
import { INPUT_LIMITS } from '../input-limits.js';

/**
 * metadata.json is parsed whole (it is JSON). 256 MiB is ~800,000 entries of ordinary paths
 * and stays below V8's largest string (~512 MiB), which JSON.parse needs.
 */
export const MAX_METADATA_BYTES = 256 * 1024 * 1024;

/** A recipe carried in the backup: the same limit as a recipe file lsbackup loads. */
export const MAX_RECIPE_BYTES = INPUT_LIMITS.recipe;

/** The body of a small entry, refused past `limit` bytes. */
export async function readLimited(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new Error(`${what} is larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
