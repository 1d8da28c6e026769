import { execFile } from 'node:child_process';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { ChunkConsumer } from './direct-chunks.js';
import { deliveryPromise, type SinkPipe } from './sink-pipe.js';

/** A pipe holds 64 KiB: no read returns more. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * A local command's stdout read into ONE reused buffer. Why: Node's pipe to a child reads
 * every 64 KiB into a newly allocated buffer; for a 600 MB tar stream that was ~10,000
 * allocations whose fresh pages fault in, and garbage to collect — more CPU than the copy
 * itself (BENCHMARKS.md, "The local case"). Node cannot make a pipe, but it can read a FIFO
 * into a buffer of its own (net.Socket `onread`): the FIFO is created, opened at both ends and
 * unlinked at once, so nothing is left on disk; the child gets its write end as stdout.
 */
export interface LocalStdout {
  /** The write end: the child's stdout. Close it here once the child is spawned (`childStarted`). */
  readonly childFd: number;
  /** The child has its copy of the write end: close ours, so the child's exit ends the stream. */
  childStarted(): void;
  /** Feeds every chunk to `consume` (waiting while it is busy), telling `count` each size. */
  deliverTo(consume: ChunkConsumer, count?: (bytes: number) => void): SinkPipe;
  /** Closes both ends (the command could not be started). */
  dispose(): void;
}

/** Undefined when no FIFO can be made here (no `mkfifo`): the caller uses an ordinary pipe. */
export async function openLocalStdout(): Promise<LocalStdout | undefined> {
  const path = join(tmpdir(), `lsbackup-stdout-${randomUUID()}`);
  try {
    await promisify(execFile)('mkfifo', ['-m', '600', path]);
  } catch {
    return undefined;
  }
  let readFd: number | undefined;
  let writeFd: number | undefined;
  try {
    // Non-blocking for the reader (event loop); the writer opens at once as a reader exists,
    // and stays blocking: the child's tar must not see EAGAIN.
    readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    writeFd = openSync(path, constants.O_WRONLY);
  } catch {
    for (const fd of [readFd, writeFd]) if (fd !== undefined) closeSync(fd);
    return undefined;
  } finally {
    rmSync(path, { force: true }); // the open ends keep the FIFO working; its name goes at once
  }
  return fifoStdout(readFd, writeFd);
}

function fifoStdout(readFd: number, writeFd: number): LocalStdout {
  let childEndOpen = true;
  const closeChildEnd = () => {
    if (childEndOpen) closeSync(writeFd);
    childEndOpen = false;
  };
  let socket: Socket | undefined;
  return {
    childFd: writeFd,
    childStarted: closeChildEnd,
    dispose() {
      closeChildEnd();
      if (socket) socket.destroy();
      else closeSync(readFd);
    },
    deliverTo(consume, count) {
      let detached = false;
      let settled = false;
      const { delivered, resolveDelivered, rejectDelivered } = deliveryPromise();
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) rejectDelivered(err);
        else resolveDelivered();
      };
      const detach = () => {
        detached = true;
        settle();
        reader.resume(); // read the rest and drop it: the killed command must not block on a full pipe
      };
      const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
      // `onread` is documented for connect(); the constructor takes it too (@types/node lacks it).
      const reader = new Socket({
        fd: readFd,
        readable: true,
        writable: false,
        onread: {
          buffer,
          // Returning false pauses reading until the consumer is done with the buffer.
          callback: (bytes: number) => {
            if (detached) return true;
            count?.(bytes);
            let waiting;
            try {
              waiting = consume(buffer.subarray(0, bytes));
            } catch (e) {
              fail(e as Error);
              return true;
            }
            if (!waiting) return true;
            waiting.then(
              () => {
                if (!reader.destroyed) reader.resume();
              },
              (e: Error) => fail(e),
            );
            return false;
          },
        },
      } as SocketConstructorOpts);
      socket = reader;
      const fail = (e: Error) => {
        settle(e);
        detached = true;
        reader.resume();
      };
      reader.on('end', () => {
        settle();
        reader.destroy();
      });
      reader.on('error', (e) => fail(e));
      return { delivered, detach };
    },
  };
}
