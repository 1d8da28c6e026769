import { open } from 'node:fs/promises';
import type { Problem } from './errors.js';

/**
 * Size limits on the files lsbackup parses. One table, used when a file is read for a run AND when a
 * backup's carried copy is read back for restore, so nothing is accepted at backup time that restore
 * would refuse. Far above any real recipe, config or inventory; a file past them is a mistake or an
 * attack (a 50 MB recipe took 13 s and 691 MiB to parse).
 */
export const INPUT_LIMITS = {
  recipe: 1024 * 1024,
  config: 4 * 1024 * 1024,
  inventory: 16 * 1024 * 1024,
  manifest: 16 * 1024 * 1024,
} as const;

export type InputKind = keyof typeof INPUT_LIMITS;

const MiB = 1024 * 1024;

export function tooLargeProblem(file: string, kind: InputKind, size: number): Problem | undefined {
  const limit = INPUT_LIMITS[kind];
  if (size <= limit) return undefined;
  const shown = size > limit + 1 ? `${(size / MiB).toFixed(1)} MiB` : `more than ${limit / MiB} MiB`;
  return { file, message: `${kind} file is ${shown}; ${kind} files are limited to ${limit / MiB} MiB`, hint: `is this the right file?` };
}

/**
 * Read a file of `kind`, never more than its limit + 1 bytes (a FIFO or /dev/zero cannot make it
 * read forever). Returns the bytes, or the problem when the file is too large.
 */
export async function readCapped(file: string, kind: InputKind): Promise<{ bytes: Buffer; problem?: undefined } | { bytes?: undefined; problem: Problem }> {
  const limit = INPUT_LIMITS[kind];
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const early = tooLargeProblem(file, kind, size);
    if (early) return { problem: early };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) return { problem: tooLargeProblem(file, kind, total)! };
    }
    return { bytes: Buffer.concat(chunks, total) };
  } finally {
    await handle.close();
  }
}
