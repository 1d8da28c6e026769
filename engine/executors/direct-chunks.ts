import type { Writable } from 'node:stream';

/**
 * Takes a chunk and is done with its bytes when it returns, or, when it returns a promise, once
 * that settles (it copies, hashes or parses them in that time and keeps no reference).
 */
export type ChunkConsumer = (chunk: Buffer) => Promise<void> | undefined;

/** Sinks whose owner also takes chunks directly; keyed by the sink so every path that passes it on keeps working. */
const consumers = new WeakMap<Writable, ChunkConsumer>();

/**
 * Declares that `sink` (a command's stdout sink) also takes chunks through `consume`, which
 * lets an executor read the command's output into one reused buffer instead of a new one per
 * read (local-stdout.ts: no allocation, page faults or garbage per 64 KiB). Writing to `sink`
 * and calling `consume` must do the same thing.
 */
export function takesChunksDirectly(sink: Writable, consume: ChunkConsumer): void {
  consumers.set(sink, consume);
}

/** The direct consumer declared for `sink`, if any. */
export function directConsumer(sink: Writable | undefined): ChunkConsumer | undefined {
  return sink ? consumers.get(sink) : undefined;
}
