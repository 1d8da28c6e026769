/**
 * One cleanup mechanism for everything that must happen however a run ends:
 * post-steps, spool files, pending uploads, open connections. Actions run last-in first-out,
 * each once, and a failing action never stops the others.
 */
export class CleanupStack {
  private actions: { label: string; action: () => Promise<void> | void }[] = [];

  defer(label: string, action: () => Promise<void> | void): void {
    this.actions.push({ label, action });
  }

  /** Runs every deferred action (newest first); returns the failures instead of throwing. */
  async runAll(): Promise<{ label: string; error: Error }[]> {
    const failures: { label: string; error: Error }[] = [];
    while (this.actions.length > 0) {
      const { label, action } = this.actions.pop()!;
      try {
        await action();
      } catch (e) {
        failures.push({ label, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
    return failures;
  }
}
