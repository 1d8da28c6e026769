#!/usr/bin/env node
// Fails when a comment or a doc points at a repo path that does not exist (a moved file, a
// doc named in a comment that was never committed). What it checks, and no more:
// - in Markdown: the whole text; in code (.ts .mjs .js .cjs) only comments; in .sh/.yaml/.yml
//   only `#` comments;
// - a path counts when it starts with a top-level folder of the repo (engine/, test/, docs/, ...),
//   or is an upper-case Markdown name (README.md, BENCHMARKS.md), or is the target
//   of a relative Markdown link;
// - `x.js` is accepted for `x.ts` (TypeScript imports name the built file); paths under
//   .gitignore'd folders (dist/, bench/out/) and ones with placeholders (`<plugin>`, `*`) are not
//   checked. Bare file names (`writer.ts`) are not checked: they name a file near the comment.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CODE = /\.(ts|mjs|js|cjs)$/;
const HASH_COMMENTS = /\.(sh|ya?ml)$|(^|\/)run$/;

/** Comment text of a JS/TS source, with strings and template literals skipped (so `s3://x` is no comment). */
export function codeComments(source) {
  const out = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i);
      out.push(source.slice(i + 2, end < 0 ? source.length : end));
      i = end < 0 ? source.length : end;
    } else if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      out.push(source.slice(i + 2, end < 0 ? source.length : end));
      i = end < 0 ? source.length : end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < source.length && source[i] !== c && !(c !== '`' && source[i] === '\n')) i += source[i] === '\\' ? 2 : 1;
      i++;
    } else i++;
  }
  return out.join('\n');
}

/** `#` comments of a shell or YAML file (a `#` at the start of a line or after a space). */
export function hashComments(source) {
  return source
    .split('\n')
    .map((line) => /(?:^|\s)#(.*)$/.exec(line)?.[1] ?? '')
    .join('\n');
}

/** The repo paths a text names, as written. */
export function namedPaths(text, topLevel) {
  const found = new Set();
  const dirs = topLevel.map((d) => d.replace(/[.]/g, '\\.')).join('|');
  const rooted = new RegExp(`(?<![\\w./@-])((?:${dirs})/[\\w./-]*[\\w/])`, 'g');
  for (const m of text.matchAll(rooted)) found.add(m[1]);
  for (const m of text.matchAll(/(?<![\w./-])([A-Z][A-Z0-9_-]*\.md)\b/g)) found.add(m[1]);
  return [...found];
}

/** Relative Markdown link targets (`[text](../x.md#part)` -> `../x.md`). */
export function markdownLinks(text) {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1].split('#')[0]).filter((t) => t && !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

/** Every dangling reference in `files` (paths relative to `root`), as `file: path`. */
export function danglingReferences(root, files) {
  const topLevel = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.split('/')[0]))];
  const ignored = existsSync(path.join(root, '.gitignore'))
    ? readFileSync(path.join(root, '.gitignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim().replace(/^\//, ''))
        .filter((l) => l.endsWith('/'))
    : [];
  const exists = (p) => existsSync(path.join(root, p)) || (p.endsWith('.js') && existsSync(path.join(root, p.replace(/\.js$/, '.ts'))));
  const problems = [];
  for (const file of files) {
    const isMarkdown = file.endsWith('.md');
    if (!isMarkdown && !CODE.test(file) && !HASH_COMMENTS.test(file)) continue;
    const source = readFileSync(path.join(root, file), 'utf8');
    const text = isMarkdown ? source : CODE.test(file) ? codeComments(source) : hashComments(source);
    for (const named of namedPaths(text, topLevel)) {
      if (ignored.some((dir) => named.startsWith(dir))) continue;
      const upperMd = !named.includes('/');
      const ok = upperMd ? exists(named) || exists(path.posix.join(path.posix.dirname(file), named)) : exists(named);
      if (!ok) problems.push(`${file}: ${named}`);
    }
    if (isMarkdown) {
      for (const link of markdownLinks(source)) {
        if (!exists(path.posix.normalize(path.posix.join(path.posix.dirname(file), link)))) problems.push(`${file}: ${link}`);
      }
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(path.join(root, f)));
  const problems = danglingReferences(root, files);
  for (const p of problems) console.error(`dangling reference: ${p}`);
  if (problems.length) {
    console.error(`check-repo-paths: ${problems.length} reference(s) to repo paths that do not exist; fix the path or the comment`);
    process.exit(1);
  }
  console.log(`check-repo-paths: ${files.length} files, no dangling references`);
}
