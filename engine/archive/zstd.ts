import { spawn } from 'node:child_process';
import { Duplex, Readable, Writable } from 'node:stream';
import { DEFAULT_BLOCK_SIZE } from './block-writer.js';
import type { Decompressor } from './decompressor.js';
import { archiveError } from './entry.js';

/** A running Debian `zstd` binary: its pipes, and how it ended. */
export interface ZstdProcess {
  stdin: Writable;
  /** Its output; null when it writes a file descriptor itself (`output`). */
  stdout: Readable | null;
  /** Resolves once zstd runs (undefined) or could not start (why, e.g. not installed). */
  started: Promise<string | undefined>;
  /** Resolves once zstd has exited and its output was read: undefined on success, else why it failed. */
  ended: Promise<string | undefined>;
  /** SIGTERM unless it has already exited. */
  kill(): void;
}

/**
 * Starts `command args` (options below). `need` completes "install the Debian package 'zstd' …" in the error a
 * missing binary gives (what the user was doing that needs zstd). `onProblem` hears a failure
 * at once, in the event that reports it (before the pipes close under a stream built on them).
 * `output` is 'pipe' (read `stdout`) or a file descriptor zstd writes itself.
 */
export interface StartZstdOptions {
  /** The binary (overridable, e.g. for tests). Default `zstd`. */
  command?: string;
  need?: string;
  onProblem?: (problem: string) => void;
  output?: 'pipe' | number;
}

export function startZstd(args: string[], options: StartZstdOptions = {}): ZstdProcess {
  const { command = 'zstd', need = 'to read or write .tar.zst', onProblem, output = 'pipe' } = options;
  const child = spawn(command, args, { stdio: ['pipe', output, 'pipe'] });
  const stdin = child.stdin!;
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  // zstd exiting early makes writes fail with EPIPE; its exit status says why, in `ended`.
  stdin.on('error', () => {});
  let spawnError: string | undefined;
  const started = new Promise<string | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError =
        err.code === 'ENOENT' ? `'${command}' was not found; install the Debian package 'zstd' ${need}` : `'${command}' failed to start: ${err.message}`;
      onProblem?.(spawnError);
      resolve(spawnError);
    });
  });
  const ended = new Promise<string | undefined>((resolve) => {
    child.once('close', (code, signal) => {
      if (spawnError) return resolve(spawnError);
      const problem =
        code !== 0 && code !== null ? `'${command}' exited with ${code}: ${stderr.trim()}` : signal ? `'${command}' was killed by ${signal}` : undefined;
      if (problem) onProblem?.(problem);
      resolve(problem);
    });
  });
  return {
    stdin,
    stdout: child.stdout,
    started,
    ended,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/**
 * The Debian `zstd -d`. Its failure (bytes after the last frame: `unsupported format`; a
 * truncated frame: `premature end`) comes through `exited` after its output (decompressor.ts):
 * zstd's output ends before its exit status is known, and a reader done at the end of the output
 * would take an archive zstd then refused for a whole one. A missing binary is reported at once,
 * on the stream too.
 */
function spawnZstdDecompressor(args: string[], command = 'zstd'): Decompressor {
  const zstd = startZstd(args, { command });
  const exited = zstd.ended.then((problem) => {
    if (problem) throw archiveError('zstd', problem);
  });
  exited.catch(() => {}); // the reader awaits it once the output ended
  // zstd stops reading at the first byte it refuses; what is still written then goes nowhere
  // (its exit status says why), so the pipe's EPIPE never replaces that reason.
  let refused = false;
  const input = new Writable({
    write(chunk: Buffer, _enc, callback) {
      if (refused) return callback();
      zstd.stdin.write(chunk, (err) => {
        if (err) refused = true;
        callback();
      });
    },
    final(callback) {
      if (!refused) zstd.stdin.end();
      callback();
    },
  });
  const stream = Duplex.from({ writable: input, readable: zstd.stdout! });
  void zstd.started.then((problem) => problem && stream.destroy(archiveError('zstd', problem)));
  // Tearing the stream down (abort) must not leave the child running. Once its output ended zstd
  // has judged the whole input (it ends its output only at the end of its input or at a byte it
  // refuses), but it may still wait for the end of its input before it exits (zstd 1.5 reads in
  // a thread of its own): closing its input lets it exit with its own status, where a signal
  // would replace that status.
  stream.on('close', () => {
    if (stream.readableEnded) zstd.stdin.destroy();
    else zstd.kill();
  });
  return { stream, exited };
}

/** `zstd -d -q -c`: decompress stdin to stdout. */
export const ZSTD_DECOMPRESS_ARGS: readonly string[] = ['-d', '-q', '-c'];

/** `zstd -T0 -q -<level> -c`: multi-threaded on all cores. */
export function zstdCompressArgs(level = 3): string[] {
  return ['-T0', '-q', `-${level}`, '-c'];
}

export function createZstdDecompressor(command?: string): Decompressor {
  return spawnZstdDecompressor([...ZSTD_DECOMPRESS_ARGS], command);
}

/** A zstd that compresses the archive, fed block by block; `exited` rejects with an EARCHIVE error naming `label`. */
export interface ZstdCompressor {
  /**
   * Its standard input. A write that fails reports why zstd stopped (its exit status and
   * stderr, e.g. "No space left on device"), not just the broken pipe that follows. A write
   * calls back once zstd's pipe took the chunk (BlockWriter may then reuse it).
   */
  input: Writable;
  /** Its output, unless it writes a file descriptor itself. */
  output: Readable | null;
  exited: Promise<void>;
}

/** Starts `zstd -T0 -<level>` for the archive writer; `output` as for startZstd. */
export function startZstdCompressor(options: { level?: number; command?: string; output?: 'pipe' | number; label: string }): ZstdCompressor {
  const zstd = startZstd(zstdCompressArgs(options.level), { command: options.command, output: options.output });
  const exited = zstd.ended.then((problem) => {
    if (problem) throw archiveError(options.label, problem);
  });
  exited.catch(() => {}); // whoever uses it awaits it; a failure must not be unhandled meanwhile
  const stdin = zstd.stdin;
  const input = new Writable({
    // Room for one 1 MiB block in flight while the next one is filled.
    highWaterMark: 2 * DEFAULT_BLOCK_SIZE,
    write(chunk: Buffer, _enc, callback) {
      stdin.write(chunk, (err) => {
        if (!err) return callback();
        // Report why zstd stopped, not just the broken pipe that follows.
        exited.then(() => callback(err), callback);
      });
    },
    final(callback) {
      stdin.end();
      exited.then(() => callback(), callback);
    },
    destroy(err, callback) {
      zstd.kill();
      stdin.destroy();
      callback(err);
    },
  });
  // The failure reaches the writer through its write callbacks and `errored`, and `exited` rejects.
  input.on('error', () => {});
  return { input, output: zstd.stdout, exited };
}
