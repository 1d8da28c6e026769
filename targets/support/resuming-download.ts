/**
 * A download that picks up where it broke off. A restore of a large backup reads one object for
 * hours and pauses it while it applies each component; a connection reset, or a connection a
 * NAT or load balancer dropped while paused (which guardStalls then reports), ended the whole
 * restore. Here such a break reopens the object at the next byte, pinned to the same version
 * (the store refuses when it was replaced or deleted meanwhile: never a mix of two objects).
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LsError } from '../../engine/errors.js';

/** Breaks in a row after which the download gives up... */
export const MAX_RESUMES = 5;
/**
 * ...where a break counts as "in a row" unless this much came since the previous one: a store
 * that sends a few bytes per connection and breaks again is not making progress.
 */
export const PROGRESS_BYTES = 16 * 1024 * 1024;

/** What reopen() throws when the object is gone or another version: final, never resumed. */
export function changedWhileRead(target: string, name: string, offset: number, cause?: unknown): LsError {
  const message = `${name} was deleted or replaced while it was being read (after ${offset} bytes); run 'lsbackup list' and try again`;
  return new LsError('ETARGET', { target, message }, { cause });
}

export interface ResumingOptions {
  /** The target's URI and the object's name, for the error said when the download is given up. */
  target: string;
  name: string;
  /** The object's size: an answer that ends short of it is a break too. */
  size: number;
  /** Opens the same object version from `offset` to its end; rejects with changedWhileRead if it is gone or replaced. */
  reopen(offset: number): Promise<Readable>;
  /** Each body as it should be read (e.g. guardStalls). */
  watch(body: Readable): Readable;
}

export function resumingDownload(first: Readable, options: ResumingOptions): Readable {
  let offset = 0;
  let breaksInARow = 0;
  let sinceBreak = 0;
  /** Requests for the object: the first answer and each reopen (the SDK's own retries of one are not counted). */
  let attempts = 1;
  /** The answer being read; none while the next one is being opened. */
  let current: Readable | undefined;
  const download = new Readable({
    read() {
      current?.resume();
    },
    destroy(err, done) {
      current?.destroy();
      done(err);
    },
  });

  const attach = (body: Readable) => {
    const watched = options.watch(body);
    current = watched;
    watched.on('data', (chunk: Buffer) => {
      offset += chunk.length;
      sinceBreak += chunk.length;
      if (!download.push(chunk)) watched.pause();
    });
    watched.once('end', () => {
      if (offset >= options.size) download.push(null);
      else void broke(new Error(`the answer ended after ${offset} of ${options.size} bytes`));
    });
    watched.once('error', (err) => void broke(err));
  };

  const broke = async (err: Error) => {
    if (download.destroyed) return;
    current?.removeAllListeners('data');
    current?.destroy();
    current = undefined;
    breaksInARow = sinceBreak >= PROGRESS_BYTES ? 1 : breaksInARow + 1;
    sinceBreak = 0;
    if (breaksInARow > MAX_RESUMES) return void download.destroy(givenUp(options, offset, attempts, err));
    try {
      // A moment's pause, longer each time: a blip that broke the answer would break an instant retry too.
      await sleep(breaksInARow * 1000);
      if (download.destroyed) return;
      attempts++;
      const body = await options.reopen(offset);
      if (download.destroyed) return void body.destroy();
      attach(body);
    } catch (e) {
      if (e instanceof LsError) return void download.destroy(e); // gone or replaced: final
      await broke(e as Error);
    }
  };

  attach(first);
  return download;
}

/**
 * The download given up: what broke it alone (an SDK's `aborted`, `socket hang up`) does not say
 * which object, how far it got, or that it was already tried again.
 */
function givenUp(options: ResumingOptions, offset: number, attempts: number, last: Error): Error {
  const message = `the download of ${options.name} from ${options.target} was given up after ${attempts} attempts, at byte ${offset} of ${options.size}; the last one failed with: ${last.message}`;
  return new Error(message, { cause: last });
}
