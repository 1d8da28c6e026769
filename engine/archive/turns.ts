/** What an entry waiting for the archive stream is made of. */
export type TurnKind = 'live' | 'spooled';

/** Hands the archive stream on; calling it again does nothing. */
export type ReleaseTurn = () => void;

/**
 * Gives the archive stream to one entry at a time. An entry streaming live from a host goes
 * before a spooled one: while it waits, its SSH channel is paused holding up to a window (2 MiB)
 * of data and the host's command is stalled, whereas a spooled entry waits on disk at no cost.
 * Entries of one kind keep their order.
 *
 * A free stream is taken at once, without a promise: a host's 10,000 small files mostly find
 * it free, and a promise (and its microtask) per entry was a measurable part of their cost.
 */
export class Turns {
  private busy = false;
  private readonly waiting: Record<TurnKind, ((release: ReleaseTurn) => void)[]> = { live: [], spooled: [] };
  private idleWaiters: (() => void)[] = [];

  /** The stream, held until the returned function is called: at once when free, else on its turn. */
  take(kind: TurnKind): ReleaseTurn | Promise<ReleaseTurn> {
    if (!this.busy) {
      this.busy = true;
      return this.releaser();
    }
    return new Promise<ReleaseTurn>((resolve) => this.waiting[kind].push(resolve));
  }

  /** Resolves once no entry holds or waits for the stream. */
  idle(): Promise<void> {
    return this.busy ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  private releaser(): ReleaseTurn {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.next();
    };
  }

  private next(): void {
    const give = this.waiting.live.shift() ?? this.waiting.spooled.shift();
    if (give) return give(this.releaser());
    this.busy = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
