import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { archiveError } from './entry.js';

/**
 * The Debian `zstd` binary as a Duplex: bytes written in come out (de)compressed.
 * A missing binary or a non-zero exit becomes an EARCHIVE error on the stream.
 */
export function spawnZstd(args: string[], command = 'zstd'): Duplex {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('error', (err: NodeJS.ErrnoException) => {
    const message =
      err.code === 'ENOENT'
        ? `'${command}' was not found; install the Debian package 'zstd' to read or write .tar.zst`
        : `'${command}' failed to start: ${err.message}`;
    duplex.destroy(archiveError('zstd', message, err));
  });
  child.on('close', (code, signal) => {
    if (code !== 0 && code !== null) duplex.destroy(archiveError('zstd', `'${command}' exited with ${code}: ${stderr.trim()}`));
    else if (signal && !duplex.destroyed) duplex.destroy(archiveError('zstd', `'${command}' was killed by ${signal}`));
  });
  // Tearing the stream down (abort) must not leave the child running.
  duplex.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  return duplex;
}

/** `zstd -T0 -q -<level> -c`: multi-threaded on all cores. */
export function createZstdCompressor(level = 3, command?: string): Duplex {
  return spawnZstd(['-T0', '-q', `-${level}`, '-c'], command);
}

export function createZstdDecompressor(command?: string): Duplex {
  return spawnZstd(['-d', '-q', '-c'], command);
}
