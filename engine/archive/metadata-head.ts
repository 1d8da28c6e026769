/**
 * The part of metadata.json before its entry list, read from a stream that is then closed: the
 * entry list is always the last member lsbackup writes (docs/archive-format.md), and it is all
 * but a few KiB of the file (20 MB for 100,000 files). A listing of every backup in an S3 or
 * Azure target reads this much of each `.metadata.json` sidecar instead of the whole.
 */
import type { Readable } from 'node:stream';

const ENTRIES = Buffer.from('entries');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPENERS = new Set([0x7b, 0x5b]); // { [
const CLOSERS = new Set([0x7d, 0x5d]); // } ]
const SPACES = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Finds the top-level member "entries" in JSON bytes fed chunk by chunk. Bytes suffice: the
 * structural characters are ASCII, and no byte of a multi-byte UTF-8 character is one of them.
 */
export class EntriesMemberScanner {
  private offset = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The string being read is a name at the top level: where it starts, whether it reads "entries" so far. */
  private name?: { start: number; length: number; matches: boolean };
  /** A top-level "entries" string ended here: a member name if a colon follows. */
  private candidate = -1;

  /** The offset of the opening quote of the top-level "entries" name, once it is in the bytes fed. */
  feed(chunk: Buffer): number | undefined {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.inString) {
        this.readStringByte(byte);
        continue;
      }
      if (this.candidate >= 0) {
        if (SPACES.has(byte)) continue;
        if (byte === COLON) return this.candidate;
        this.candidate = -1; // a string value, not a member name
      }
      if (byte === QUOTE) {
        this.inString = true;
        this.name = this.depth === 1 ? { start: this.offset + i, length: 0, matches: true } : undefined;
      } else if (OPENERS.has(byte)) this.depth++;
      else if (CLOSERS.has(byte)) this.depth--;
    }
    this.offset += chunk.length;
    return undefined;
  }

  private readStringByte(byte: number): void {
    if (this.escaped) {
      this.escaped = false;
      if (this.name) this.name.matches = false; // an escaped "entries" is not written by lsbackup
    } else if (byte === BACKSLASH) {
      this.escaped = true;
    } else if (byte === QUOTE) {
      this.inString = false;
      if (this.name?.matches && this.name.length === ENTRIES.length) this.candidate = this.name.start;
      this.name = undefined;
    } else if (this.name) {
      this.name.matches &&= this.name.length < ENTRIES.length && byte === ENTRIES[this.name.length];
      this.name.length++;
    }
  }
}

/**
 * metadata.json's text up to its entry list, with an empty list in its place, read from `body`,
 * which is destroyed once that much has arrived. Without such a member the whole text (which the
 * schema then refuses). Past `limit` bytes: an error naming `what`.
 */
export async function readMetadataHeadText(body: Readable, limit: number, what: string): Promise<string> {
  const scanner = new EntriesMemberScanner();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      const at = scanner.feed(chunk);
      if (at !== undefined) return Buffer.concat(chunks).subarray(0, at).toString('utf8') + '"entries":[]}';
      if (size > limit) throw new Error(`${what} is larger than ${limit} bytes`);
    }
  } finally {
    // Closed before this resolves: a caller bounding the reads in flight counts open objects.
    const closed = new Promise<void>((resolve) => (body.closed ? resolve() : body.once('close', () => resolve())));
    body.destroy();
    await closed;
  }
  return Buffer.concat(chunks).toString('utf8');
}
