/**
 * Deterministic changes to a bench data tree between incremental backups (bench/incremental.ts):
 * the same seed on the same tree always changes the same files in the same way, so every tool
 * backs up the same states and runs compare.
 */
import { appendFileSync, closeSync, lstatSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from './data.js';

/** What one call changed: how many files, and their sizes after the change. */
export interface Change {
  files: number;
  bytes: number;
}

/** Bytes appended to a file, or rewritten in place at its start. */
const APPEND_BYTES = 1024;
const REWRITE_BYTES = 4096;

/** Regular files under dir (relative, sorted: readdir order must not choose the subset). */
export function regularFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).filter((rel) => lstatSync(join(dir, rel)).isFile()).sort();
}

/** Sum of the sizes of the regular files under dir: a repository's or a target's size. */
export function storedBytes(dir: string): number {
  return regularFiles(dir).reduce((sum, rel) => sum + lstatSync(join(dir, rel)).size, 0);
}

/**
 * Changes `fraction` of the regular files under dir (at least one), picked by a PRNG seeded
 * with `seed`: the first half of the picks get 1 KiB appended (logs, segments), the others
 * their first 4 KiB rewritten in place, same size (a config edited, a block rewritten).
 */
export function changeFiles(dir: string, fraction: number, seed: number, skip: (rel: string) => boolean = () => false): Change {
  const files = regularFiles(dir).filter((rel) => !skip(rel));
  const count = Math.max(1, Math.round(files.length * fraction));
  const rand = prng(seed * 7919 + 1);
  // Partial Fisher-Yates: the first `count` entries become the seeded subset.
  for (let i = 0; i < count; i++) {
    const j = i + (rand() % (files.length - i));
    [files[i], files[j]] = [files[j]!, files[i]!];
  }
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const path = join(dir, files[i]!);
    const text = (length: number) => Buffer.alloc(length, `changed by step ${seed}, file ${i}, ${rand().toString(16)}\n`);
    if (i < count / 2) appendFileSync(path, text(APPEND_BYTES));
    else {
      const length = Math.min(REWRITE_BYTES, lstatSync(path).size);
      const fd = openSync(path, 'r+');
      try {
        writeSync(fd, text(length), 0, length, 0);
      } finally {
        closeSync(fd);
      }
    }
    bytes += lstatSync(path).size;
  }
  return { files: count, bytes };
}
