import * as types from 'tar/types';
import { decodeHeader, parseLongName, parsePax, TAR_BLOCK, withExtended, type ExtendedFields, type HeaderFields } from './header.js';

/** One member of a tar stream, with pax and GNU long-name headers already applied. */
export interface TarMember extends HeaderFields {
  /** node-tar's name for the type flag: 'File', 'Directory', 'SymbolicLink', 'Link', 'SparseFile', ... */
  type: string;
}

/**
 * What the parser hands on. A callback that returns a promise pauses the parser until it
 * settles (backpressure: the archive is busy); a rejected promise stops the parser.
 */
export interface TarMemberSink {
  member(member: TarMember): Promise<void> | void;
  /** The next piece of the current member's body (a view into the input chunk, not a copy). */
  body(chunk: Buffer): Promise<void> | void;
  /** The current member's body is complete. */
  memberEnd(): Promise<void> | void;
}

/** Extended headers larger than this are refused (node-tar's limit too): a real one is a few hundred bytes. */
const MAX_META_SIZE = 1024 * 1024;

/** Header types that only describe the next member. */
const META_TYPES = new Set(['x', 'g', 'X', 'L', 'N', 'K']);

/**
 * A synchronous push parser for a tar stream (ustar, pax, GNU long names): feed it chunks as
 * they arrive and it calls the sink with each member's header and the pieces of its body, in
 * place. Why not node-tar's Parser: it wraps every member in a stream and every body chunk in
 * events, which for a host's 10,000 small files costs more than the bytes. Headers are decoded
 * by header.ts, the codec that writes them (test/archive/tar-header.test.ts checks that GNU tar
 * and node-tar read its headers the same way).
 */
export class TarStreamParser {
  private readonly headerBlock = Buffer.alloc(TAR_BLOCK);
  private headerFilled = 0;
  private state: 'header' | 'body' | 'meta' | 'padding' | 'eof' = 'header';
  /** Body bytes of the current member (or meta header) still to come. */
  private remain = 0;
  /** Zero padding after the body still to skip. */
  private padding = 0;
  private metaType = '';
  private meta: Buffer[] = [];
  /** What the last extended header(s) said about the next member. */
  private extended: ExtendedFields | undefined;
  /** What global pax headers said about every member after them. */
  private globalExtended: ExtendedFields | undefined;
  private sawNullBlock = false;
  private sawMember = false;

  constructor(private readonly sink: TarMemberSink) {}

  /** True while a member's header arrived but not all of its body. */
  get inMember(): boolean {
    return this.state === 'body';
  }

  /** Consume `chunk`; a promise means: do not write again until it settles. Throws on a malformed stream. */
  write(chunk: Buffer): Promise<void> | undefined {
    return this.consume(chunk, 0);
  }

  /** The stream ended: throws if it ended inside a member or header, or held no tar at all. */
  end(): void {
    if (this.state === 'eof') return;
    if (this.state === 'body' || this.state === 'meta' || this.headerFilled > 0) {
      throw new Error('the tar stream ended in the middle of a member');
    }
    // A stream that ends without its two zero blocks is what `tar` writes when it was killed.
    if (this.sawMember && this.state === 'header' && !this.sawNullBlock) throw new Error('the tar stream ended without its end-of-archive blocks');
  }

  private consume(chunk: Buffer, from: number): Promise<void> | undefined {
    let offset = from;
    while (offset < chunk.length) {
      switch (this.state) {
        case 'eof':
          return undefined; // what follows the end-of-archive blocks is record padding
        case 'header': {
          const n = Math.min(TAR_BLOCK - this.headerFilled, chunk.length - offset);
          // A whole header inside the chunk is decoded in place; only a split one is copied.
          if (this.headerFilled === 0 && n === TAR_BLOCK) {
            offset += TAR_BLOCK;
            const waiting = this.onHeader(chunk.subarray(offset - TAR_BLOCK, offset));
            if (waiting) return this.resume(waiting, chunk, offset);
            break;
          }
          chunk.copy(this.headerBlock, this.headerFilled, offset, offset + n);
          this.headerFilled += n;
          offset += n;
          if (this.headerFilled === TAR_BLOCK) {
            this.headerFilled = 0;
            const waiting = this.onHeader(this.headerBlock);
            if (waiting) return this.resume(waiting, chunk, offset);
          }
          break;
        }
        case 'body': {
          const n = Math.min(this.remain, chunk.length - offset);
          const piece = n === chunk.length ? chunk : chunk.subarray(offset, offset + n);
          offset += n;
          this.remain -= n;
          const waiting = this.sink.body(piece);
          if (this.remain === 0) {
            if (waiting)
              return this.resume(
                waiting.then(() => this.endMember()),
                chunk,
                offset,
              );
            const ending = this.endMember();
            if (ending) return this.resume(ending, chunk, offset);
          } else if (waiting) return this.resume(waiting, chunk, offset);
          break;
        }
        case 'meta': {
          const n = Math.min(this.remain, chunk.length - offset);
          this.meta.push(Buffer.from(chunk.subarray(offset, offset + n))); // a copy: it outlives the chunk
          offset += n;
          this.remain -= n;
          if (this.remain === 0) this.applyMeta();
          break;
        }
        case 'padding': {
          const n = Math.min(this.padding, chunk.length - offset);
          offset += n;
          this.padding -= n;
          if (this.padding === 0) this.state = 'header';
          break;
        }
      }
    }
    return undefined;
  }

  /** Continue with the rest of `chunk` once `waiting` settles. */
  private async resume(waiting: Promise<void>, chunk: Buffer, offset: number): Promise<void> {
    await waiting;
    const more = this.consume(chunk, offset);
    if (more) await more;
  }

  private onHeader(block: Buffer): Promise<void> | void {
    const raw = decodeHeader(block);
    if (raw === 'end') {
      // Two zero blocks end the archive; one alone is tolerated (node-tar and GNU tar do too).
      if (this.sawNullBlock) this.state = 'eof';
      this.sawNullBlock = true;
      return;
    }
    this.sawNullBlock = false;
    if (META_TYPES.has(raw.flag)) {
      // Pending extended values describe the next member, not this extended header.
      if (raw.size > MAX_META_SIZE) throw new Error(`a tar extended header of ${raw.size} bytes is larger than ${MAX_META_SIZE}`);
      this.metaType = raw.flag;
      this.remain = raw.size;
      this.padding = (TAR_BLOCK - (raw.size % TAR_BLOCK)) % TAR_BLOCK;
      this.meta = [];
      this.state = 'meta';
      if (raw.size === 0) this.applyMeta();
      return;
    }
    const header = withExtended(raw, this.globalExtended ? { ...this.globalExtended, ...this.extended } : this.extended);
    const { flag, size } = header;
    const padding = (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
    // The pending extended header described this member and no other.
    this.extended = undefined;
    if (!header.path) throw new Error('a tar header has no path');
    const isLink = flag === '1' || flag === '2';
    if (isLink && !header.linkpath) throw new Error(`tar member '${header.path}' is a link without a target`);
    this.sawMember = true;
    this.remain = size;
    this.padding = padding;
    this.state = size > 0 ? 'body' : padding > 0 ? 'padding' : 'header';
    // The header object is this member's own (decodeHeader made it): completed in place, no copy per member.
    const member = header as TarMember;
    member.type = types.name.get(flag as types.EntryTypeCode) ?? `type '${flag}'`;
    if (!isLink) member.linkpath = undefined;
    const waiting = this.sink.member(member);
    if (size > 0) return waiting;
    return waiting ? waiting.then(() => this.sink.memberEnd()) : this.sink.memberEnd();
  }

  private endMember(): Promise<void> | void {
    this.state = this.padding > 0 ? 'padding' : 'header';
    return this.sink.memberEnd();
  }

  /** A pax or GNU long-name header is complete: remember what it says about the next member(s). */
  private applyMeta(): void {
    const body = Buffer.concat(this.meta);
    this.meta = [];
    this.state = this.padding > 0 ? 'padding' : 'header';
    switch (this.metaType) {
      case 'x':
      case 'X':
        this.extended = parsePax(body, this.extended ? { ...this.extended } : {}, false);
        break;
      case 'g':
        this.globalExtended = parsePax(body, { ...this.globalExtended }, true);
        break;
      case 'L':
      case 'N':
        this.extended = { ...this.extended, path: parseLongName(body) };
        break;
      case 'K':
        this.extended = { ...this.extended, linkpath: parseLongName(body) };
        break;
    }
  }
}
