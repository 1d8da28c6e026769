/**
 * Publishing an archive together with its sidecars, the same way on every target: all of them
 * or none, and never over an existing object. Each sidecar is first written out of sight for
 * the candidate name; then the sidecars, and the archive last, are placed under their final
 * names with the store's no-clobber primitive (link(), a rename that refuses a taken name, a
 * conditional write). The archive's appearance is the moment of publication: whoever sees it
 * sees whole sidecars. A taken name (another writer got there first) undoes what was placed and
 * tries the next candidate; any failure undoes everything, so nothing remains under a final name.
 */
import type { Readable } from 'node:stream';
import type { Sidecar } from '../types.js';

/** What a target provides; `S` is its handle on an object written out of sight. */
export interface PublishStore<S> {
  /** Is any object under this name (a cheap pre-check: place() decides)? */
  taken(name: string): Promise<boolean>;
  /** Write a sidecar's bytes out of sight, to be placed as `finalName`. */
  stage(finalName: string, content: Readable): Promise<S>;
  /** Make it visible as `finalName` unless that name is taken: false then. Never replaces. */
  place(staged: S, finalName: string): Promise<boolean>;
  /** Take back what place() put under `finalName` (ours: it replaced nothing). */
  unplace(staged: S, finalName: string): Promise<void>;
  /** Remove whatever is left of a staged object out of sight (nothing once placed by a move). */
  discard(staged: S): Promise<void>;
  /** After everything is placed (local: make the directory entries durable); a failure undoes all. */
  settle?(): Promise<void>;
}

export class NameTakenError extends Error {}

/**
 * Publishes `archive` (already written out of sight) under the first candidate whose archive and
 * sidecar names are all free, with its sidecars. `candidates` yields names to try in order; with
 * a single candidate a taken name throws NameTakenError. Resolves to the archive's final name.
 */
export async function publishTogether<S>(store: PublishStore<S>, archive: S, candidates: Iterable<string>, sidecars: readonly Sidecar[] = []): Promise<string> {
  let last: string | undefined;
  for (const candidate of candidates) {
    last = candidate;
    const names = [...sidecars.map((s) => candidate + s.suffix), candidate];
    if ((await Promise.all(names.map((n) => store.taken(n)))).some(Boolean)) continue;
    if (await placeAll(store, archive, candidate, sidecars)) return candidate;
  }
  throw new NameTakenError(last === undefined ? 'no candidate name' : `${last} (or one of its sidecars) already exists; nothing was overwritten`);
}

/** One attempt at one candidate: true when published, false when a name turned out taken. */
async function placeAll<S>(store: PublishStore<S>, archive: S, name: string, sidecars: readonly Sidecar[]): Promise<boolean> {
  const staged: { handle: S; name: string }[] = [];
  const placed: { handle: S; name: string }[] = [];
  try {
    for (const sidecar of sidecars) {
      const finalName = name + sidecar.suffix;
      staged.push({ handle: await store.stage(finalName, sidecar.content(name)), name: finalName });
    }
    for (const item of [...staged, { handle: archive, name }]) {
      if (!(await store.place(item.handle, item.name))) {
        await undo(store, placed, staged);
        return false;
      }
      placed.push(item);
    }
    await store.settle?.();
    await Promise.all(staged.map((s) => store.discard(s.handle)));
    return true;
  } catch (e) {
    await undo(store, placed, staged);
    throw e;
  }
}

/** Take back every placed object (newest first) and drop the staged sidecars; best effort, the first error is the one reported. */
async function undo<S>(store: PublishStore<S>, placed: { handle: S; name: string }[], staged: { handle: S }[]): Promise<void> {
  for (const p of placed.reverse()) await store.unplace(p.handle, p.name).catch(() => undefined);
  await Promise.all(staged.map((s) => store.discard(s.handle).catch(() => undefined)));
}
