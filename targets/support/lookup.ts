/**
 * A lookup against a remote store where "404" means "not there": the answer is undefined then,
 * and any other failure becomes the plugin's own error. S3 and Azure read the status differently,
 * so each passes its `statusOf`.
 */
export async function unlessNotFound<T>(
  lookup: () => Promise<T>,
  statusOf: (e: unknown) => number | undefined,
  fail: (cause: unknown) => Error,
): Promise<T | undefined> {
  try {
    return await lookup();
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw fail(e);
  }
}
