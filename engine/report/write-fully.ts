import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to a file descriptor before returning, also when it is a pipe whose reader
 * is slow. process.stdout.write on a full pipe queues the rest in memory and process.exit drops
 * that queue: under load a `--json` reader lost whole screens of events. Node sets stdio pipes
 * non-blocking, so a full pipe answers EAGAIN: wait a little (Atomics.wait sleeps without
 * spinning) and go on. A reader that went away (EPIPE) chose not to read the rest.
 */
export function writeFullySync(fd: number, text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return;
      if (code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}
