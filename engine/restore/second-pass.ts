/**
 * Stream mode's second pass (docs/restore.md): nothing was staged, so the restore steps take
 * their entries' bodies straight from the archive, read again from its target. The first pass
 * verified everything; this one checks that it meets the same archive: each 1 MiB block of it
 * is held back until its sha256 equals the verify pass's (engine/archive/block-digests.ts), so no
 * byte the verify pass did not see reaches a host; each entry in the same place with the same
 * size and sha256. A difference refuses every body still to come.
 *
 * Steps ask for their entries in their own order, the archive holds them in its order: a request
 * joins a pass that has not yet gone past its first entry, else a new pass starts. Requests of
 * steps that run side by side share one pass.
 */
import { pipeHoldingFailure } from '../archive/held-failure.js';
import { PassThrough, type Readable } from 'node:stream';
import { openArchiveReader, type ArchiveFormat } from '../archive/index.js';
import type { BackupSource } from './source.js';
import type { StagedBackup, VerifiedArchive } from './stage.js';
import { checkBlocks } from '../archive/block-digests.js';
import { createHash } from 'node:crypto';
import { heldPath } from '../archive/held-path.js';
import { brokenReadOf, describeBrokenRead } from '../archive/broken-read.js';

/** An archive to read again: how to open it, and what the verify pass found in it. */
export interface RereadArchive extends VerifiedArchive {
  source: BackupSource;
  format: ArchiveFormat;
}

/** One body wanted: the entry, the archive holding it, and the size and sha256 metadata.json records. */
export interface WantedBody {
  archive: string;
  path: string;
  size: number;
  sha256: string;
}

/** Bodies in the order asked for; close() when done with them (also early: the rest is skipped). */
export interface BodyStream {
  next(): Promise<Readable>;
  /** Why a body handed out was cut short (its archive changed), if one was. */
  failure(): string | undefined;
  close(): void;
}

export class SecondPass {
  private readonly archives: Map<string, { archive: RereadArchive; index: Map<string, number> }>;
  private readonly passes: Pass[] = [];
  /** Why nothing more is read: an archive differed from what the verify pass read. */
  private refusal: string | undefined;

  constructor(
    archives: RereadArchive[],
    private readonly onRefusal: (message: string) => void,
  ) {
    this.archives = new Map(archives.map((a) => [a.name, { archive: a, index: new Map(a.order.map((p, i) => [p, i])) }]));
  }

  /** Set once an archive changed between the passes: the rest of the restore is refused with it. */
  refused(): string | undefined {
    return this.refusal;
  }

  bodies(wanted: WantedBody[]): BodyStream {
    const runs = this.splitIntoRuns(wanted);
    let current: Subscription | undefined;
    let failure: string | undefined;
    const subscriptions: Subscription[] = [];
    return {
      next: async () => {
        while (!current || current.exhausted()) {
          const run = runs.shift();
          if (!run) throw new Error('no more bodies were asked for');
          current = this.subscribe(run);
          subscriptions.push(current);
        }
        return current.next();
      },
      failure: () => failure ?? subscriptions.map((s) => s.failure).find((f) => f !== undefined),
      close: () => {
        for (const s of subscriptions) s.close();
        failure ??= subscriptions.map((s) => s.failure).find((f) => f !== undefined);
      },
    };
  }

  /** Consecutive bodies of one archive in its own order can come from one pass. */
  private splitIntoRuns(wanted: WantedBody[]): { archive: string; items: (WantedBody & { at: number })[] }[] {
    const runs: { archive: string; items: (WantedBody & { at: number })[] }[] = [];
    for (const w of wanted) {
      const known = this.archives.get(w.archive);
      const at = known?.index.get(w.path);
      if (at === undefined) throw new Error(`entry '${w.path}' is not in ${w.archive} as verified`);
      const last = runs.at(-1);
      const prev = last?.items.at(-1);
      if (last && last.archive === w.archive && prev!.at < at) last.items.push({ ...w, at });
      else runs.push({ archive: w.archive, items: [{ ...w, at }] });
    }
    return runs;
  }

  private subscribe(run: { archive: string; items: (WantedBody & { at: number })[] }): Subscription {
    const subscription = new Subscription(run.items);
    if (this.refusal) {
      subscription.fail(this.refusal);
      return subscription;
    }
    const first = run.items[0]!.at;
    let pass = this.passes.find((p) => p.archive.name === run.archive && p.canJoin(first, subscription));
    if (!pass) {
      pass = new Pass(this.archives.get(run.archive)!.archive, (message) => this.refuse(message));
      this.passes.push(pass);
      pass.canJoin(first, subscription);
      const started = pass;
      void started.run().finally(() => {
        const at = this.passes.indexOf(started);
        if (at >= 0) this.passes.splice(at, 1);
      });
    }
    return subscription;
  }

  private refuse(message: string): void {
    if (this.refusal) return;
    this.refusal = message;
    for (const p of this.passes) p.failAll(message);
    this.onRefusal(message);
  }
}

/** One request's bodies within one pass, handed over as the pass reaches them. */
class Subscription {
  private readonly ready: Readable[] = [];
  /** Every body given, so close() can release one its step stopped reading (a command that exited early). */
  private readonly handedOut: Readable[] = [];
  private waiter: { resolve: (r: Readable) => void; reject: (e: Error) => void } | undefined;
  private taken = 0;
  private given = 0;
  private closed = false;
  failure: string | undefined;

  constructor(readonly items: (WantedBody & { at: number })[]) {}

  exhausted(): boolean {
    return this.taken >= this.items.length;
  }

  wants(path: string): boolean {
    return !this.closed && this.failure === undefined && this.items.some((i) => i.path === path);
  }

  next(): Promise<Readable> {
    if (this.failure !== undefined) return Promise.reject(new Error(this.failure));
    this.taken++;
    const body = this.ready.shift();
    if (body) return Promise.resolve(body);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  give(body: Readable): void {
    this.given++;
    this.handedOut.push(body);
    if (this.waiter) {
      this.waiter.resolve(body);
      this.waiter = undefined;
    } else this.ready.push(body);
  }

  /** Fails what is still to come; `cut`: a body already handed out was cut short too. */
  fail(message: string, cut = false): void {
    if (this.failure !== undefined || (!cut && (this.closed || this.given === this.items.length))) return;
    this.failure = message;
    this.waiter?.reject(new Error(message));
    this.waiter = undefined;
    for (const b of this.ready.splice(0)) b.destroy(new Error(message));
  }

  close(): void {
    this.closed = true;
    // Unread, or read only in part: the pass drains the rest instead of waiting on it.
    for (const b of this.handedOut) if (!b.readableEnded) b.destroy();
  }
}

/** One read of an archive from its target, handing each wanted body to its subscription. */
class Pass {
  /** Index of the next entry to be read. */
  private nextAt = 0;
  private readonly byPath = new Map<string, Subscription>();
  private failed = false;

  constructor(
    readonly archive: RereadArchive,
    private readonly refuse: (message: string) => void,
  ) {}

  /** Joins when the pass has not gone past the first entry and no other request waits for the same ones. */
  canJoin(first: number, subscription: Subscription): boolean {
    if (this.failed || this.nextAt > first || subscription.items.some((i) => this.byPath.has(i.path))) return false;
    for (const item of subscription.items) this.byPath.set(item.path, subscription);
    return true;
  }

  failAll(message: string): void {
    this.failed = true;
    for (const s of new Set(this.byPath.values())) s.fail(message);
  }

  async run(): Promise<void> {
    const { name } = this.archive;
    const changed = (what: string) => `${name} changed after it was verified (${what}): the rest of the restore is refused`;
    let stored: Readable | undefined;
    let readFailed: Error | undefined;
    const checked = checkBlocks(this.archive.blocks);
    /** The body being handed over: cut short with the reason when the read fails under it. */
    let current: { out: PassThrough; subscription: Subscription } | undefined;
    /**
     * Where a read that breaks off stopped: the stored bytes that arrived. Not an entry: the block
     * check holds back what follows the last whole checked block, so the reader is still in an
     * entry before the one the read broke in.
     */
    let arrived = 0;
    try {
      stored = await this.archive.source.open((bytes) => (arrived += bytes));
      // A broken read cuts the blocks short: said as the read's failure, not as a changed archive.
      stored.on('error', (e) => (readFailed ??= e));
      for await (const { entry, body } of openArchiveReader(pipeHoldingFailure(stored, checked), this.archive.format)) {
        if (this.failed) return;
        const at = this.nextAt++;
        if (this.archive.order[at] !== entry.path) {
          return this.refuse(changed(`entry ${at + 1} is '${entry.path}', the verified archive had '${this.archive.order[at] ?? 'nothing'}'`));
        }
        const subscription = this.byPath.get(entry.path);
        const wanted = subscription?.items.find((i) => i.path === entry.path);
        // An unread body is skipped by the reader.
        if (!subscription || !wanted || !subscription.wants(entry.path)) continue;
        const out = new PassThrough();
        out.on('error', () => undefined); // the step reading it sees the error through its own pipe
        subscription.give(out);
        current = { out, subscription };
        const verdict = await handOver(body, out, wanted);
        current = undefined;
        if (verdict) {
          const message = changed(`'${entry.path}' ${verdict}`);
          out.destroy(new Error(message));
          subscription.fail(message, true);
          return this.refuse(message);
        }
      }
      if (this.nextAt !== this.archive.order.length) return this.refuse(changed(`it ends after ${this.nextAt} of ${this.archive.order.length} entries`));
    } catch (e) {
      const broken = brokenReadOf(e) ?? brokenReadOf(readFailed);
      const differs = readFailed ? undefined : checked.failure();
      const message = broken
        ? `${name}, read again for the hosts: ${describeBrokenRead(`after ${arrived} bytes`, broken)}; the rest of the restore is refused`
        : differs
          ? changed(differs)
          : `reading ${name} again failed: ${(e as Error).message}; the rest of the restore is refused`;
      // A body cut short mid-read must end for its step, failed, never wait for bytes that will not come.
      current?.out.destroy(new Error(message));
      current?.subscription.fail(message, true);
      if (!this.failed) this.refuse(message);
    } finally {
      stored?.destroy();
      // A request that met nothing (refused above, or the pass ended early) must not wait forever.
      this.failAll(this.failed ? 'the second pass over ' + name + ' stopped' : `the second pass over ${name} ended before its entries`);
    }
  }
}

/**
 * Streams `body` into `out` with backpressure, hashing as it goes; the last chunk goes only after
 * size and sha256 matched (else the caller fails `out` with what differed). A reader that stopped early (out destroyed) leaves
 * the rest drained. Returns what differed, if anything.
 */
async function handOver(body: Readable, out: PassThrough, wanted: WantedBody): Promise<string | undefined> {
  const hash = createHash('sha256');
  let size = 0;
  let held: Buffer | undefined;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (held && !out.destroyed && !out.write(held)) await drainedOrClosed(out);
    held = chunk;
  }
  const sha256 = hash.digest('hex');
  const differs =
    size !== wanted.size
      ? `has ${size} bytes, metadata.json says ${wanted.size}`
      : sha256 !== wanted.sha256
        ? `has sha256 ${sha256}, metadata.json says ${wanted.sha256}`
        : undefined;
  if (!differs && !out.destroyed) out.end(held);
  return differs;
}

function drainedOrClosed(out: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

/** Opens the bodies of entries by path, for the steps of a stream-mode restore. */
export type OpenBodies = (paths: string[]) => BodyStream;

/** Each path's body from the archive that holds it (an incremental's base, or the backup itself). */
export function bodiesFromSecondPass(pass: SecondPass, staged: StagedBackup, backup: string): OpenBodies {
  const records = new Map(staged.metadata.entries.map((e) => [e.path, e]));
  return (paths) =>
    pass.bodies(
      paths.map((p) => {
        const record = records.get(p);
        // A reference's body is in its holder, under the name the holder keeps it.
        const path = record ? heldPath(record) : p;
        return { archive: staged.entries.get(p)?.holder ?? backup, path, size: record?.size ?? 0, sha256: record?.sha256 ?? '' };
      }),
    );
}
