import type { Readable } from 'node:stream';

/**
 * A read of a stored object that breaks (a download cut, a target gone away, a failing disk),
 * told apart from damage found in the bytes read: the failure of the target's own stream is
 * noted as it is emitted, and every link after it passes that same error on (held-failure.ts,
 * the archive reader, age). Such a failure says nothing of the archive as stored, may pass, and
 * must not mark a good backup damaged (engine/catalog/damage.ts).
 */
const brokenReads = new WeakSet<Error>();

/** A target's stream of an object (Target.get): its failures, and a failure to open it, are broken reads. */
export async function targetRead(opening: Promise<Readable>): Promise<Readable> {
  const stored = await opening.catch((e: unknown) => {
    if (e instanceof Error) brokenReads.add(e);
    throw e;
  });
  // The first listener: the error is noted before any link after it sees it.
  stored.on('error', (e) => brokenReads.add(e));
  return stored;
}

/** The broken read `e` is, or was caused by (an archive reader's error around it); undefined when it is no broken read. */
export function brokenReadOf(e: unknown): Error | undefined {
  for (let c = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) if (brokenReads.has(c)) return c;
  return undefined;
}

/** How a broken read is said: where in the archive it broke off, and the read's own reason. */
export function describeBrokenRead(where: string, failure: Error): string {
  return `the read broke off ${where}: ${failure.message}`;
}

/** Where a read stopped: in the entry being read, after the last one read whole, or before any. */
export function readPosition(reading: string | undefined, lastRead: string | undefined): string {
  return reading ? `in entry '${reading}'` : lastRead ? `after entry '${lastRead}'` : 'at its start';
}
