/**
 * The SSH wire encoding (RFC 4251 §5): uint32, string (length-prefixed bytes) and mpint, as used
 * by OpenSSH key files, public key blobs and signatures (engine/signing/sshsig.ts).
 */

export function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A non-negative big-endian integer as an mpint: no leading zeros, one 0x00 when the top bit is set. */
export function sshMpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  return sshString(trimmed.length > 0 && trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** Reads SSH wire fields one after another; any overrun throws (the input is damaged). */
export class SshReader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  uint32(): number {
    if (this.offset + 4 > this.bytes.length) throw new Error('truncated');
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  raw(length: number): Buffer {
    if (this.offset + length > this.bytes.length) throw new Error('truncated');
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  string(): Buffer {
    return this.raw(this.uint32());
  }

  text(): string {
    return this.string().toString('utf8');
  }

  /** An mpint as unsigned big-endian bytes (the sign byte dropped). */
  mpint(): Buffer {
    const value = this.string();
    return value.length > 0 && value[0] === 0 ? value.subarray(1) : value;
  }

  get done(): boolean {
    return this.offset === this.bytes.length;
  }
}
