/**
 * Forwards a command's output into the caller's sink, with backpressure, leaving the sink open
 * (the Executor contract: the caller ends it). Unlike `pipe()`, it tells when the sink has
 * *taken* every chunk: the source's 'end' only means the last chunk was handed to `write()`,
 * while a slow sink may still hold it in its buffer, so a caller that looks at the sink then
 * (or a command result reported then) would miss the tail (docs/faults.md, "Streams").
 */
import type { Readable, Writable } from 'node:stream';

export interface SinkPipe {
  /** Resolves once the source ended and the sink called back for every chunk; rejects with the sink's error. */
  readonly delivered: Promise<void>;
  /**
   * Stop forwarding (the command was killed, its output is discarded): the rest of the source
   * is read and dropped, so the command is not held up by a sink nobody waits for any more.
   */
  detach(): void;
}

/** A SinkPipe's `delivered` and how to settle it; a rejection nobody awaits (detached) is not unhandled. */
export function deliveryPromise() {
  let resolveDelivered!: () => void;
  let rejectDelivered!: (e: Error) => void;
  const delivered = new Promise<void>((resolve, reject) => ((resolveDelivered = resolve), (rejectDelivered = reject)));
  delivered.catch(() => {}); // a caller that detached does not await it
  return { delivered, resolveDelivered, rejectDelivered };
}

/** `count` (optional) is told each chunk's size as it is forwarded (live progress). */
export function pipeToSink(from: Readable, to: Writable, count?: (bytes: number) => void): SinkPipe {
  let pending = 0;
  let ended = false;
  let settled = false;
  const { delivered, resolveDelivered, rejectDelivered } = deliveryPromise();

  const onWritten = (err?: Error | null) => {
    pending--;
    if (err) fail(err);
    else if (ended && pending === 0) settle();
  };
  const onData = (chunk: Buffer) => {
    pending++;
    count?.(chunk.length);
    if (!to.write(chunk, onWritten)) {
      from.pause();
      to.once('drain', onDrain);
    }
  };
  const onDrain = () => from.resume();
  // A sink destroyed while the source waits for its 'drain' (the archive could not spool the
  // body: disk full) emits no error and no drain: without this the command would block on a
  // full pipe until its step timeout.
  const onClose = () => fail(to.errored ?? new Error('the destination of the output was closed before the output ended'));
  const onEnd = () => {
    ended = true;
    if (pending === 0) settle();
  };
  const fail = (e: Error) => {
    detach();
    rejectDelivered(e);
  };
  const settle = () => {
    stop();
    resolveDelivered();
  };
  const stop = () => {
    if (settled) return;
    settled = true;
    from.off('data', onData).off('end', onEnd);
    to.off('drain', onDrain).off('error', fail).off('close', onClose);
  };
  const detach = () => {
    stop();
    from.resume();
  };

  from.on('data', onData).on('end', onEnd);
  to.on('error', fail).on('close', onClose);
  return { delivered, detach };
}
