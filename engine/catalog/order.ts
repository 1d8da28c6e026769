/**
 * Which backup is newer. The time is the one its metadata records (a file name can be changed
 * by anyone: a copy renamed `…-20991231T000000Z` is still as old as the run that made it).
 * Equal times: the copy whose name agrees with its metadata first, then the collision suffix.
 */
export interface Ordered {
  time: Date;
  /** The collision suffix of the name (`_1`): orders backups of the same second. */
  sequence: number;
  /** The name disagrees with the metadata (a renamed copy). */
  renamed?: boolean;
}

export function newestFirst(a: Ordered, b: Ordered): number {
  return b.time.getTime() - a.time.getTime() || Number(a.renamed ?? false) - Number(b.renamed ?? false) || b.sequence - a.sequence;
}
