/**
 * Encryption at rest in the age v1 format (https://age-encryption.org/v1), so a backup
 * written by lsbackup is decrypted by the stock `age -d -i key.txt` and vice versa.
 *
 * The age-encryption package (typage) does the cryptography on WHATWG streams in 64 KiB
 * STREAM chunks; this module only adapts it to Node streams so archives flow through
 * without ever being held whole in memory.
 */
import { Duplex, PassThrough, Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter } from 'age-encryption';
import { LsError } from '../errors.js';
import { cryptoError } from './crypto-error.js';

export { parseIdentityFile } from './identity-file.js';

/** Encrypt everything written to the returned stream for the given `age1...` recipients. */
export function encryptStream(recipients: string[]): Duplex {
  const encrypter = encrypterFor(recipients);
  return bridge((plaintext) => encrypter.encrypt(plaintext), 'encryption failed');
}

/** Throws ECRYPTO unless every recipient is one age encrypts to: checked before a run does any work. */
export function checkRecipients(recipients: string[]): void {
  encrypterFor(recipients);
}

function encrypterFor(recipients: string[]): Encrypter {
  if (recipients.length === 0) throw cryptoError('encryption needs at least one recipient (age1...)');
  const encrypter = new Encrypter();
  for (const r of recipients) {
    try {
      encrypter.addRecipient(r.trim());
    } catch (cause) {
      throw cryptoError(`'${r}' is not an age recipient (expected age1...)`, cause);
    }
  }
  return encrypter;
}

/** Decrypt an age file written to the returned stream with any of the given identities. */
export function decryptStream(identities: string[]): Duplex {
  if (identities.length === 0) throw cryptoError('decryption needs at least one identity (AGE-SECRET-KEY-1...)');
  const decrypter = new Decrypter();
  for (const id of identities) {
    try {
      decrypter.addIdentity(id.trim());
    } catch (cause) {
      // Never echo the identity itself: it is a secret key.
      throw cryptoError('an identity is not an age secret key (expected AGE-SECRET-KEY-1...)', cause);
    }
  }
  return bridge((ciphertext) => decrypter.decrypt(ciphertext), 'decryption failed (wrong key, or the data is corrupt or tampered with)');
}

/**
 * Expose a WHATWG transform (input stream -> promise of output stream) as one Node Duplex.
 * The input side is pulled one chunk at a time, so backpressure reaches the writer.
 */
function bridge(run: (input: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>, failure: string): Duplex {
  const input = new PassThrough();
  const asLsError = (cause: unknown) => (cause instanceof LsError ? cause : (noIdentityMatched(cause) ?? cryptoError(failure, cause)));
  const result = run(pullFrom(input));
  // Errors from inside the library (a bad header or key, a tampered or truncated chunk) become one ECRYPTO error.
  const output = readableUntilFailure(result, asLsError);
  result.catch((cause: unknown) => input.destroy(asLsError(cause)));
  return Duplex.from({ writable: input, readable: output });
}

/**
 * The transform's output, each chunk produced only when the reader asks for it, so a failure is
 * raised only once the reader took every chunk before it. A stream destroyed with the failure
 * while it still held authenticated chunks dropped them: a reader slower than the decryption
 * lost the end of the entry before a tampered chunk, and the damage was named in that entry.
 */
function readableUntilFailure(result: Promise<ReadableStream<Uint8Array>>, asError: (cause: unknown) => Error): Readable {
  let chunks: AsyncIterator<Uint8Array> | undefined;
  /** The next chunk that has bytes (an empty one pushed would not ask for the next), or null at the end. */
  const next = async (): Promise<Buffer | null> => {
    chunks ??= (await result)[Symbol.asyncIterator]();
    for (;;) {
      const { value, done } = await chunks.next();
      if (done) return null;
      if (value.byteLength > 0) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  };
  return new Readable({
    highWaterMark: 0,
    read() {
      next().then(
        (chunk) => this.push(chunk),
        (cause: unknown) => this.destroy(asError(cause)),
      );
    },
    destroy(error, callback) {
      void chunks?.return?.().catch(() => {});
      callback(error);
    },
  });
}

/** age's refusal when none of the identities unwraps the file key (typage and age's Go say the same). */
function noIdentityMatched(cause: unknown): LsError | undefined {
  if (!/no identity matched/.test((cause as Error | undefined)?.message ?? '')) return undefined;
  const message = 'none of the identities given opens it: it was encrypted for other recipients (age1...); pass the identity of one of them';
  return cryptoError(message, cause, { wrongIdentity: true });
}

function pullFrom(source: Readable): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      async cancel() {
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
