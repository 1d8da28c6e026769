import { spawn } from 'node:child_process';
import { Duplex, Writable, type Readable } from 'node:stream';
import { DEFAULT_BLOCK_SIZE } from './block-writer.js';
import { archiveError } from './entry.js';

/** A running `zstd`: feed `stdin`; `exited` settles when it is gone (rejects on a failure). */
export interface ZstdProcess {
  /**
   * Its standard input. A write that fails reports why zstd stopped (its exit status and
   * stderr, e.g. "No space left on device"), not just the broken pipe that follows.
   */
  stdin: Writable;
  /** Its output, unless it writes a file descriptor itself. */
  stdout: Readable | null;
  exited: Promise<void>;
  /** Stop it now (abort). */
  kill(): void;
}

/**
 * Starts the Debian `zstd` binary. `output` is 'pipe' (read `stdout`) or a file descriptor that
 * zstd writes itself. A missing binary or a non-zero exit becomes an EARCHIVE error naming
 * `label` (the archive or file it works on).
 */
export function startZstd(args: string[], options: { command?: string; output?: 'pipe' | number; label?: string } = {}): ZstdProcess {
  const command = options.command ?? 'zstd';
  const label = options.label ?? 'zstd';
  const child = spawn(command, args, { stdio: ['pipe', options.output ?? 'pipe', 'pipe'] });
  const input = child.stdin!;
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      const message =
        err.code === 'ENOENT'
          ? `'${command}' was not found; install the Debian package 'zstd' to read or write .tar.zst`
          : `'${command}' failed to start: ${err.message}`;
      reject(archiveError(label, message, err));
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (code !== null) reject(archiveError(label, `'${command}' exited with ${code}: ${stderr.trim()}`));
      else reject(archiveError(label, `'${command}' was killed by ${signal}`));
    });
  });
  exited.catch(() => {}); // whoever uses it awaits it; a failure must not be unhandled meanwhile
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  // The pipe's own error is only the echo of zstd going away: report zstd's reason instead.
  input.on('error', () => {});
  const stdin = new Writable({
    // Room for one 1 MiB block in flight while the next one is filled.
    highWaterMark: 2 * DEFAULT_BLOCK_SIZE,
    write(chunk: Buffer, _enc, callback) {
      input.write(chunk, (err) => (err ? exited.then(() => callback(err), callback) : callback()));
    },
    final(callback) {
      input.end();
      exited.then(() => callback(), callback);
    },
    destroy(err, callback) {
      kill();
      input.destroy();
      callback(err);
    },
  });
  // The failure reaches the writer through its write callbacks and `errored`, and `exited` rejects.
  stdin.on('error', () => {});
  return { stdin, stdout: child.stdout, exited, kill };
}

/** `zstd -T0 -q -<level> -c`: multi-threaded on all cores. */
export function zstdCompressArgs(level = 3): string[] {
  return ['-T0', '-q', `-${level}`, '-c'];
}

/** zstd as a Duplex (bytes in, decompressed bytes out), for reading archives. */
export function createZstdDecompressor(command?: string): Duplex {
  const zstd = startZstd(['-d', '-q', '-c'], { command });
  const duplex = Duplex.from({ writable: zstd.stdin, readable: zstd.stdout! });
  zstd.exited.catch((err: Error) => duplex.destroy(err));
  // Tearing the stream down (abort) must not leave the child running.
  duplex.on('close', zstd.kill);
  return duplex;
}
