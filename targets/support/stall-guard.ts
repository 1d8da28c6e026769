/**
 * A store that stops sending must not hold a run (and its locks) forever. For requests, the
 * HTTP clients' socket idle timeouts do that (targets/support/idle-timeout.ts); a download's
 * body needs this instead: a socket idle timeout also fires while lsbackup itself pauses the
 * download (a restore applying one component while the next waits in the archive), so here
 * the clock runs only while the reader is waiting for bytes the store has not sent.
 */
import { Readable } from 'node:stream';

/**
 * `body` as a stream that fails with `stalled()` once the reader has waited `idleMs` for its
 * next bytes. Time the reader spends not asking (its buffer full) does not count. 0: no limit.
 */
export function guardStalls(body: Readable, idleMs: number, stalled: () => Error): Readable {
  if (!(idleMs > 0)) return body;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const start = () => {
    timer ??= setTimeout(() => guarded.destroy(stalled()), idleMs);
  };
  const guarded = new Readable({
    read() {
      start();
      body.resume();
    },
    destroy(err, done) {
      stop();
      body.destroy();
      done(err);
    },
  });
  body.pause();
  body.on('data', (chunk: Buffer) => {
    stop();
    if (guarded.push(chunk)) start();
    else body.pause(); // the reader's buffer is full: its pause, not the store's
  });
  let ended = false;
  body.once('end', () => {
    ended = true;
    stop();
    guarded.push(null);
  });
  body.once('error', (err) => guarded.destroy(err));
  body.once('close', () => {
    if (!ended) guarded.destroy(new Error('the download ended before its last byte'));
  });
  return guarded;
}
