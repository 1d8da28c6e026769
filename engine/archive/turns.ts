/** What an entry waiting for the archive stream is made of. */
export type TurnKind = 'live' | 'spooled';

/**
 * Gives the archive stream to one entry at a time. An entry streaming live from a host goes
 * before a spooled one: while it waits, its SSH channel is paused holding up to a window (2 MiB)
 * of data and the host's command is stalled, whereas a spooled entry waits on disk at no cost.
 * Entries of one kind keep their order.
 */
export class Turns {
  private busy = false;
  private readonly waiting: Record<TurnKind, (() => void)[]> = { live: [], spooled: [] };
  private idleWaiters: (() => void)[] = [];

  take<T>(kind: TurnKind, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => this.next());
      };
      if (this.busy) this.waiting[kind].push(run);
      else {
        this.busy = true;
        run();
      }
    });
  }

  /** Resolves once no entry holds or waits for the stream. */
  idle(): Promise<void> {
    return this.busy ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  private next(): void {
    const run = this.waiting.live.shift() ?? this.waiting.spooled.shift();
    if (run) return run();
    this.busy = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
