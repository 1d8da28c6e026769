/**
 * Resolves once every promise continuation queued so far, and every one those queue in turn,
 * has run: setImmediate fires only after the microtask queue is empty. For code that waits on
 * nothing but promises this is an exact "everything that could happen now has happened",
 * not a guess at a duration (a fixed sleep).
 */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
