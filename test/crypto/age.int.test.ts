// Interop with the real `age` CLI (Debian package `age`): what lsbackup encrypts, age
// decrypts, and the other way round. Large enough to span many 64 KiB STREAM chunks.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptStream, encryptStream, parseIdentityFile } from '../../engine/crypto/age.js';
import { LsError } from '../../engine/errors.js';

let dir: string;
let keyFile: string;
let recipient: string;
let plainFile: string;
let plainSha: string;

const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsbackup-age-'));
  keyFile = join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
  recipient = execFileSync('age-keygen', ['-y', keyFile]).toString().trim();
  // 3 MiB + a bit: many full chunks and a partial last one.
  const plain = randomBytes(3 * 1024 * 1024 + 12345);
  plainFile = join(dir, 'plain.bin');
  await writeFile(plainFile, plain);
  plainSha = sha256(plain);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('age encryption', () => {
  it('reads identities from an age-keygen file', async () => {
    const ids = await parseIdentityFile(keyFile);
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^AGE-SECRET-KEY-1/);
  });

  it('writes a stream that `age -d` decrypts', async () => {
    const encrypted = join(dir, 'by-lsbackup.age');
    await pipeline(createReadStream(plainFile), encryptStream([recipient]), createWriteStream(encrypted));
    const decrypted = execFileSync('age', ['-d', '-i', keyFile, encrypted], { maxBuffer: 64 * 1024 * 1024 });
    expect(sha256(decrypted)).toBe(plainSha);
  });

  it('decrypts a file written by `age -r`', async () => {
    const encrypted = join(dir, 'by-age.age');
    execFileSync('age', ['-r', recipient, '-o', encrypted, plainFile]);
    const decrypted = join(dir, 'decrypted.bin');
    await pipeline(createReadStream(encrypted), decryptStream(await parseIdentityFile(keyFile)), createWriteStream(decrypted));
    expect(sha256(await readFile(decrypted))).toBe(plainSha);
  });

  it('round-trips an empty stream', async () => {
    const chunks: Buffer[] = [];
    await pipeline(Readable.from([]), encryptStream([recipient]), decryptStream(await parseIdentityFile(keyFile)), async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) chunks.push(c);
    });
    expect(Buffer.concat(chunks).length).toBe(0);
  });

  it('rejects tampered ciphertext', async () => {
    const encrypted = join(dir, 'tampered.age');
    execFileSync('age', ['-r', recipient, '-o', encrypted, plainFile]);
    const bytes = await readFile(encrypted);
    bytes[bytes.length - 70_000] ^= 0x01; // inside the payload, a few chunks from the end
    await writeFile(encrypted, bytes);
    const failure = pipeline(createReadStream(encrypted), decryptStream(await parseIdentityFile(keyFile)), createWriteStream(join(dir, 'out.bin')));
    await expect(failure).rejects.toThrow(LsError);
    await expect(failure).rejects.toMatchObject({ code: 'ECRYPTO' });
  });

  // age authenticates each 64 KiB chunk on its own, so every chunk before a tampered one is
  // sound. The decryption's failure used to destroy its output stream at once, dropping the chunks
  // a reader slower than the decryption had not taken yet: restore and verify named the damage
  // in the entry before it. The reader here waits after each chunk until the stream has failed
  // (bounded: with the fix no chunk is decrypted ahead of the reader, so it never fails early).
  it('gives a reader slower than the decryption every chunk before a tampered one, then the failure', async () => {
    const encrypted = join(dir, 'tampered-third-chunk.age');
    execFileSync('age', ['-r', recipient, '-o', encrypted, plainFile]);
    const bytes = await readFile(encrypted);
    const plain = await readFile(plainFile);
    const chunk = 64 * 1024;
    const chunks = Math.ceil(plain.length / chunk);
    const payloadStart = bytes.length - plain.length - 16 * chunks; // after the header and the 16-byte nonce
    bytes[payloadStart + 2 * (chunk + 16) + 100] ^= 0x01; // inside the third chunk
    await writeFile(encrypted, bytes);

    const decrypted = createReadStream(encrypted).pipe(decryptStream(await parseIdentityFile(keyFile)));
    const read: Buffer[] = [];
    const reading = (async () => {
      for await (const c of decrypted) {
        read.push(c as Buffer);
        for (let polls = 0; polls < 50 && !decrypted.destroyed; polls++) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await expect(reading).rejects.toMatchObject({ code: 'ECRYPTO' });
    expect(Buffer.concat(read).length).toBe(2 * chunk);
    expect(Buffer.concat(read).equals(plain.subarray(0, 2 * chunk))).toBe(true);
  });

  it('rejects the wrong key without printing it', async () => {
    const otherKey = join(dir, 'other.txt');
    execFileSync('age-keygen', ['-o', otherKey], { stdio: 'ignore' });
    const other = await parseIdentityFile(otherKey);
    const encrypted = join(dir, 'for-first.age');
    execFileSync('age', ['-r', recipient, '-o', encrypted, plainFile]);
    const failure = pipeline(createReadStream(encrypted), decryptStream(other), createWriteStream(join(dir, 'out2.bin')));
    const error = (await failure.then(
      () => undefined,
      (e: unknown) => e as Error,
    ))!;
    expect(error).toBeInstanceOf(LsError);
    expect(error.message).not.toContain(other[0]);
  });

  it('refuses a recipient that is not an age key', () => {
    expect(() => encryptStream(['ssh-nope'])).toThrow(/not an age recipient/);
  });
});
