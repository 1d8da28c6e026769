/**
 * The files a finished run leaves for whatever watches it (--metrics-textfile, --report): each
 * is written though another fails. Before, a textfile that could not be written (replaced by
 * something else, its lock held too long) stopped before the report, and the last run's report
 * stayed in place, saying its success. The first failure is thrown once both are done.
 */
export async function writeRunOutputs(writes: (Promise<void> | undefined)[]): Promise<void> {
  const pending = writes.filter((w): w is Promise<void> => w !== undefined);
  const failed = (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
