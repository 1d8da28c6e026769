/**
 * Runs the bundled CLI (dist/cli/lsbackup.cjs, one CommonJS script) from a V8 code cache.
 * Node 20 compiles every module from source on every run and has no compile cache of its own
 * (module.enableCompileCache came with Node 22): compiling ~2 MB of bundle was a third of a
 * trivial run's start-up (BENCHMARKS.md, "Start-up"). The cache is what V8 produced for this
 * very bundle, this Node and this architecture, written once when a run's start-up is over (so
 * it holds the functions start-up compiled, not only the top level) and rejected by V8 itself
 * when it does not match; a cache that cannot be read, written or trusted only costs the compile
 * it would save.
 *
 * Where: $LSBACKUP_COMPILE_CACHE (a directory; `off` turns it off), else
 * $XDG_CACHE_HOME/lsbackup, else ~/.cache/lsbackup. Used only when that directory is ours and
 * writable by no one else: the cache is code this process runs.
 */
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { writeFileAtomicallySync } from '../atomic-file.js';

const OFF = new Set(['off', '0', 'false', 'no']);
const CACHE_FILE = /^compile-([0-9a-f]{16})(?:-[a-z][a-z-]*)?\.bin$/;

/**
 * One cache per command (`apply`, `restore`, …; anything else `other`): a cache holds the
 * functions of the run that wrote it, so the first run after an install being `--version` left
 * every later `apply` compiling its own functions on each start (0.35 s against 0.26 s a trivial
 * run, BENCHMARKS.md "Session 26").
 */
function commandOf(argv: string[]): string {
  const word = argv[2] ?? '';
  return /^[a-z][a-z-]{0,31}$/.test(word) ? word : 'other';
}

/**
 * A run still going after this long writes the cache then, not at its exit. Why: V8 drops the
 * bytecode of functions that have not run for a few full collections, and a backup over SSH has
 * dozens, so by its exit the start-up's functions were gone from what V8 would cache: the cache
 * an 8-host backup wrote at exit held 780 KB, and a trivial run from it took 382 ms of CPU, as
 * without a cache (392 ms), against 325 ms from one written by a short run (1.2 MB).
 */
const STARTUP_WINDOW_MS = 1000;

/** Runs `file` (a CommonJS bundle) as Node would require it, compiled from the cache when one fits. */
export function runBundle(file: string, env: NodeJS.ProcessEnv = process.env): void {
  const bytes = readFileSync(file);
  // ASCII (as scripts/bundle-cli.mjs makes it) is read as one-byte text, 5x faster than UTF-8.
  // A hashbang line is valid only at the very start of a file: inside the wrapper it becomes a comment.
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8').replace(/^#!/, '//');
  const cache = cacheFile(bytes, env);
  const cachedData = cache === undefined ? undefined : readCache(cache);
  // On one line with the first of the bundle: stack traces keep the bundle's line numbers.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
    // The bundle require()s its externals (scripts/bundle-cli.mjs refuses a dynamic import()); where
    // this Node has it, a dynamic import() would still get Node's own loader instead of an error.
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cache !== undefined && (cachedData === undefined || script.cachedDataRejected)) {
    // Not now: once start-up is over V8 has compiled the functions it needed, and they go in too.
    const write = () => {
      clearTimeout(timer);
      process.off('exit', write);
      writeCache(cache, script);
    };
    const timer = setTimeout(write, STARTUP_WINDOW_MS).unref();
    process.once('exit', write);
  }
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, path.dirname(file));
}

/** The cache file for this bundle, Node and architecture; undefined when caching is off or the directory is not safe. */
export function cacheFile(bundle: Buffer, env: NodeJS.ProcessEnv, argv: string[] = process.argv): string | undefined {
  const setting = env.LSBACKUP_COMPILE_CACHE?.trim();
  if (setting !== undefined && OFF.has(setting.toLowerCase())) return undefined;
  try {
    const dir = path.resolve(setting || path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'lsbackup'));
    // Never make directories in someone else's tree (`sudo -E lsbackup` with the user's HOME);
    // a sticky directory such as /tmp is everyone's to make their own in.
    const parent = lstatSync(existingAncestor(dir));
    if (!ownedByUs(parent) && (parent.mode & 0o1000) === 0) return undefined;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory() || !ownedByUs(st) || (st.mode & 0o022) !== 0) return undefined;
    const key = createHash('sha256').update(`${process.version} ${process.arch}\n`).update(bundle).digest('hex').slice(0, 16);
    return path.join(dir, `compile-${key}-${commandOf(argv)}.bin`);
  } catch {
    return undefined;
  }
}

function existingAncestor(dir: string): string {
  let at = dir;
  while (!existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

function ownedByUs(st: Stats): boolean {
  return st.uid === process.getuid?.();
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written whole, then renamed into place: a concurrent run reads the old cache or the new one, never half. */
function writeCache(file: string, script: vm.Script): void {
  try {
    writeFileAtomicallySync(file, script.createCachedData(), 0o600);
    // Caches of earlier builds (or another Node) are never read again; other commands' of this one are.
    const dir = path.dirname(file);
    const key = CACHE_FILE.exec(path.basename(file))?.[1];
    for (const name of readdirSync(dir)) {
      const build = CACHE_FILE.exec(name)?.[1];
      if (build !== undefined && build !== key) rmSync(path.join(dir, name), { force: true });
    }
  } catch {
    // Nothing may throw here (at exit, or in the middle of a run): a cache not written is only a
    // compile the next run pays again.
  }
}
