import { spawn } from 'node:child_process';
import { Duplex, type Readable, type Writable } from 'node:stream';
import { archiveError } from './entry.js';

/** A running Debian `zstd` binary: its pipes, and how it ended. */
export interface ZstdProcess {
  stdin: Writable;
  stdout: Readable;
  /** Resolves once zstd runs (undefined) or could not start (why, e.g. not installed). */
  started: Promise<string | undefined>;
  /** Resolves once zstd has exited and its output was read: undefined on success, else why it failed. */
  ended: Promise<string | undefined>;
  /** SIGTERM unless it has already exited. */
  kill(): void;
}

/**
 * Starts `command args`. `need` completes "install the Debian package 'zstd' …" in the error a
 * missing binary gives (what the user was doing that needs zstd). `onProblem` hears a failure
 * at once, in the event that reports it (before the pipes close under a stream built on them).
 */
export function startZstd(args: string[], command = 'zstd', need = 'to read or write .tar.zst', onProblem?: (problem: string) => void): ZstdProcess {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  // zstd exiting early makes writes fail with EPIPE; its exit status says why, in `ended`.
  child.stdin.on('error', () => {});
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
      const problem = code !== 0 && code !== null ? `'${command}' exited with ${code}: ${stderr.trim()}` : signal ? `'${command}' was killed by ${signal}` : undefined;
      if (problem) onProblem?.(problem);
      resolve(problem);
    });
  });
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    started,
    ended,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/**
 * The Debian `zstd` binary as a Duplex: bytes written in come out (de)compressed.
 * A missing binary or a non-zero exit becomes an EARCHIVE error on the stream.
 */
export function spawnZstd(args: string[], command = 'zstd'): Duplex {
  let duplex: Duplex | undefined;
  const zstd = startZstd(args, command, undefined, (problem) => duplex?.destroy(archiveError('zstd', problem)));
  duplex = Duplex.from({ writable: zstd.stdin, readable: zstd.stdout });
  // Tearing the stream down (abort) must not leave the child running.
  duplex.on('close', () => zstd.kill());
  return duplex;
}

/** `zstd -T0 -q -<level> -c`: multi-threaded on all cores. */
export function createZstdCompressor(level = 3, command?: string): Duplex {
  return spawnZstd(['-T0', '-q', `-${level}`, '-c'], command);
}

export function createZstdDecompressor(command?: string): Duplex {
  return spawnZstd(['-d', '-q', '-c'], command);
}
