/**
 * One at a time, first come first served: the archive's entries are written whole, one after
 * another, while several hosts offer theirs at once. `acquire` returns nothing when the turn
 * is free (no promise on the fast path of a single host's 10,000 small files).
 */
export class Turnstile {
  private busy = false;
  private opened = false;
  private readonly waiting: (() => void)[] = [];

  /** undefined: the turn is yours now; a promise: it will be when it resolves. */
  acquire(): Promise<void> | undefined {
    if (this.opened) return undefined;
    if (!this.busy) {
      this.busy = true;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hand the turn to the next in line. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }

  /** Let everyone through from now on (abort: each of them then fails on its own). */
  openAll(): void {
    this.opened = true;
    for (const next of this.waiting.splice(0)) next();
  }
}
