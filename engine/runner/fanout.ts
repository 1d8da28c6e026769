import { Writable } from 'node:stream';
import { DEFAULT_BLOCK_SIZE } from '../archive/block-writer.js';

export interface FanoutBranch {
  /** Label for errors (the target URI). */
  label: string;
  stream: Writable;
}

/**
 * One archive stream, several destinations (copies to several targets). Each chunk goes to
 * every live branch with backpressure (the slowest target sets the pace). A branch that fails
 * is dropped and remembered, and the others carry on: one broken target does not lose the
 * backup for the rest. Only when every branch has failed does the fanout itself fail.
 */
export class Fanout {
  readonly stream: Writable;
  readonly failures = new Map<string, Error>();
  private live: FanoutBranch[];

  constructor(branches: FanoutBranch[]) {
    this.live = [...branches];
    for (const b of branches) b.stream.on('error', (e: Error) => this.fail(b, e));
    this.stream = new Writable({
      highWaterMark: DEFAULT_BLOCK_SIZE,
      // Chunks that queued up while the branches were busy go on together, one wait for all.
      writev: (chunks, cb) => {
        this.writeAll(chunks.map((c) => c.chunk as Buffer)).then(() => cb(), cb);
      },
      final: (cb) => {
        Promise.all(this.live.map((b) => endBranch(b))).then(
          () => cb(),
          (e: Error) => cb(e),
        );
      },
    });
  }

  /** Branches still healthy. */
  get healthy(): readonly FanoutBranch[] {
    return this.live;
  }

  private fail(branch: FanoutBranch, error: Error): void {
    if (!this.failures.has(branch.label)) this.failures.set(branch.label, error);
    this.live = this.live.filter((b) => b !== branch);
  }

  private async writeAll(chunks: Buffer[]): Promise<void> {
    await Promise.all(
      this.live.map(
        (b) =>
          new Promise<void>((resolve) => {
            if (b.stream.destroyed) {
              this.fail(b, new Error('stream closed'));
              return resolve();
            }
            let ok = true;
            for (const chunk of chunks) {
              ok = b.stream.write(chunk, (e) => {
                if (e) this.fail(b, e);
              });
            }
            if (ok) return resolve();
            const onDrain = () => {
              b.stream.off('close', onDrain);
              resolve();
            };
            b.stream.once('drain', onDrain);
            b.stream.once('close', onDrain);
          }),
      ),
    );
    if (this.live.length === 0) throw new Error(`every target failed: ${[...this.failures].map(([l, e]) => `${l}: ${e.message}`).join('; ')}`);
  }
}

function endBranch(branch: FanoutBranch): Promise<void> {
  return new Promise((resolve) => {
    if (branch.stream.writableFinished || branch.stream.destroyed) return resolve();
    branch.stream.end(() => resolve());
    branch.stream.once('error', () => resolve());
  });
}
