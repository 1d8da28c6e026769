import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export const MiB = 1024 * 1024;

/** `size` random bytes as a stream of 1 MiB chunks; digest() is their sha256 once read. */
export function randomSource(size: number): { stream: Readable; digest(): string } {
  const hash = createHash('sha256');
  async function* generate() {
    for (let left = size; left > 0; left -= MiB) {
      const chunk = randomBytes(Math.min(MiB, left));
      hash.update(chunk);
      yield chunk;
    }
  }
  return { stream: Readable.from(generate()), digest: () => hash.digest('hex') };
}

export async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
