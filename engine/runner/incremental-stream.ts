import { Writable } from 'node:stream';
import { MAX_METADATA_BYTES } from '../archive/limits.js';
import { MANIFEST_HEADER } from './incremental-collect-command.js';

/** The header line is short; a longer first line is not an incremental collect's output. */
const MAX_HEADER = 64;

/**
 * Takes an incremental collect's stdout apart: the header line and the host's manifest are kept
 * (`manifest()`), the tar stream after them goes on to `tar` with its backpressure. An empty
 * stream (no collect path left) is an empty manifest and no tar.
 */
export class ManifestSplitter {
  readonly sink: Writable;
  private header = Buffer.alloc(0);
  private expected: number | undefined;
  private readonly parts: Buffer[] = [];
  private received = 0;
  private problem: string | undefined;
  /** The header's second number: when the host listed its files (incremental-collect-command.ts). */
  private listedAt: number | undefined;
  /** Bytes passed on to `tar` (what came after the manifest). */
  forwarded = 0;

  constructor(private readonly tar: Writable) {
    this.sink = new Writable({
      highWaterMark: tar.writableHighWaterMark,
      write: (chunk: Buffer, _enc, callback) => {
        const rest = this.take(chunk);
        if (!rest || rest.length === 0) return callback();
        this.forwarded += rest.length;
        this.tar.write(rest, (e) => callback(e ?? undefined));
      },
    });
  }

  /** Waits until everything written reached `tar`; then the manifest and when the host listed it, or why the stream was not one. */
  async finish(): Promise<{ manifest: Buffer; listedAt?: number; error?: string }> {
    await new Promise<void>((resolve) => {
      if (this.sink.writableFinished || this.sink.destroyed) return resolve();
      this.sink.once('error', () => resolve());
      this.sink.end(() => resolve());
    });
    if (this.problem) return { manifest: Buffer.alloc(0), error: this.problem };
    if (this.expected === undefined && this.header.length > 0) return { manifest: Buffer.alloc(0), error: 'the host sent no manifest header' };
    if (this.expected !== undefined && this.received < this.expected) return { manifest: Buffer.alloc(0), error: 'the host manifest was cut short' };
    return { manifest: Buffer.concat(this.parts), ...(this.listedAt !== undefined ? { listedAt: this.listedAt } : {}) };
  }

  /** Consumes header and manifest bytes; returns what belongs to the tar stream. */
  private take(chunk: Buffer): Buffer | undefined {
    if (this.problem) return undefined;
    let rest = chunk;
    if (this.expected === undefined) {
      const joined = Buffer.concat([this.header, rest]);
      const newline = joined.indexOf(0x0a);
      if (newline < 0) {
        if (joined.length > MAX_HEADER) this.problem = 'the host sent no manifest header';
        this.header = joined;
        return undefined;
      }
      const match = new RegExp(`^${MANIFEST_HEADER} (\\d+)(?: (\\d+(?:\\.\\d+)?))?$`).exec(joined.toString('latin1', 0, newline));
      const size = match ? Number(match[1]) : NaN;
      if (!(size <= MAX_METADATA_BYTES)) {
        this.problem = match ? `the host manifest is larger than ${MAX_METADATA_BYTES} bytes` : 'the host sent no manifest header';
        return undefined;
      }
      this.expected = size;
      if (match?.[2] !== undefined) this.listedAt = Number(match[2]);
      rest = joined.subarray(newline + 1);
    }
    const wanted = this.expected - this.received;
    if (wanted > 0) {
      const part = rest.subarray(0, wanted);
      this.parts.push(Buffer.from(part));
      this.received += part.length;
      rest = rest.subarray(part.length);
    }
    return rest;
  }
}
