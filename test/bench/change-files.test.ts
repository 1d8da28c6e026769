/**
 * The incremental benchmark's fairness rests on bench/change-files.ts: the same seed on the same
 * tree must change the same files the same way (every tool backs up identical states, runs
 * compare), in the stated proportion, appending to half and rewriting the rest in place.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { changeFiles, regularFiles } from '../../bench/change-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** 200 files of 3000 bytes in two subdirectories, all identical content per name. */
function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lsb-change-files-'));
  dirs.push(dir);
  for (const sub of ['a', 'b']) {
    mkdirSync(join(dir, sub));
    for (let i = 0; i < 100; i++) writeFileSync(join(dir, sub, `f${i}`), `${sub}${i}\n`.padEnd(3000, 'x'));
  }
  return dir;
}

const contents = (dir: string) => new Map(regularFiles(dir).map((rel) => [rel, readFileSync(join(dir, rel), 'utf8')]));

test('the same seed changes the same files the same way; another seed picks others', () => {
  const [one, two, other] = [tree(), tree(), tree()];
  const original = contents(one);
  const change = changeFiles(one, 0.1, 3);
  changeFiles(two, 0.1, 3);
  changeFiles(other, 0.1, 4);
  expect(contents(two)).toEqual(contents(one));
  const changed = (dir: string) => [...contents(dir)].filter(([rel, text]) => text !== original.get(rel)).map(([rel]) => rel);
  expect(changed(one)).toHaveLength(20);
  expect(change.files).toBe(20);
  expect(changed(other)).not.toEqual(changed(one));
});

test('half the picks grow by 1 KiB, the others keep their size; at least one file changes', () => {
  const dir = tree();
  const change = changeFiles(dir, 0.1, 1);
  const sizes = regularFiles(dir).map((rel) => statSync(join(dir, rel)).size);
  expect(sizes.filter((s) => s === 3000 + 1024)).toHaveLength(10);
  expect(sizes.filter((s) => s === 3000)).toHaveLength(190);
  expect(change.bytes).toBe(10 * (3000 + 1024) + 10 * 3000);
  const small = tree();
  expect(changeFiles(small, 0.0001, 1).files).toBe(1);
});

test('a file the caller excludes is never picked', () => {
  const dir = tree();
  const before = readFileSync(join(dir, 'a', 'f0'), 'utf8');
  for (let seed = 0; seed < 20; seed++) changeFiles(dir, 0.5, seed, (rel) => rel === join('a', 'f0'));
  expect(readFileSync(join(dir, 'a', 'f0'), 'utf8')).toBe(before);
});
