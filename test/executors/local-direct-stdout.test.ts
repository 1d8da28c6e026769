/**
 * A local command's stdout read into one reused buffer (engine/executors/local-stdout.ts) for a
 * sink that takes chunks directly (engine/executors/direct-chunks.ts): every byte arrives in
 * order even when the consumer is sometimes slow, a failing consumer fails the run without
 * leaving the command blocked, a killed command's run returns, and the FIFO leaves nothing on disk.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { LocalExecutor } from '../../engine/executors/local.js';
import { takesChunksDirectly, type ChunkConsumer } from '../../engine/executors/direct-chunks.js';
import { shellQuote } from '../../engine/template/index.js';
import { tempDir } from '../archive/helpers.js';

const SIZE = 8 * 1024 * 1024 + 123;
let dir: Awaited<ReturnType<typeof tempDir>>;
let file: string;
let digest: string;
const savedTmpdir = process.env.TMPDIR;

beforeEach(async () => {
  dir = await tempDir('lsb-direct-');
  // The FIFO is made in os.tmpdir(): here, so that what it leaves behind is this test's alone.
  process.env.TMPDIR = dir.path;
  const data = randomBytes(SIZE);
  file = join(dir.path, 'data.bin');
  writeFileSync(file, data);
  digest = createHash('sha256').update(data).digest('hex');
});
afterEach(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  await dir.cleanup();
});

/** A sink whose stream side must not be used: the executor is to call `consume` instead. */
function directSink(consume: ChunkConsumer): Writable {
  const sink = new Writable({ write: (_chunk, _enc, done) => done(new Error('written through the stream instead of directly')) });
  sink.on('error', () => {});
  takesChunksDirectly(sink, consume);
  return sink;
}

const fifosLeft = () => readdirSync(dir.path).filter((name) => name !== 'data.bin');

describe('local executor, a sink that takes chunks directly', () => {
  it('delivers every byte in order from one reused buffer, also to a consumer that is sometimes busy', async () => {
    const hash = createHash('sha256');
    const buffers = new Set<ArrayBufferLike>();
    let calls = 0;
    let counted = 0;
    const sink = directSink((chunk) => {
      buffers.add(chunk.buffer);
      calls++;
      if (calls % 5 !== 0) {
        hash.update(chunk);
        return undefined;
      }
      // Busy: the bytes are used only later, so a reader that overwrote its buffer meanwhile would corrupt them.
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          hash.update(chunk);
          resolve();
        }),
      );
    });
    const r = await new LocalExecutor('local').run(`cat ${shellQuote(file)}`, { stdout: sink, countStdout: (n) => (counted += n) });
    expect(r).toMatchObject({ exitCode: 0, failed: false });
    expect(hash.digest('hex')).toBe(digest);
    expect(counted).toBe(SIZE);
    expect(calls).toBeGreaterThan(1);
    expect(buffers.size).toBe(1); // no new buffer per read
    expect(fifosLeft()).toEqual([]);
  });

  it.each([
    ['rejects', () => Promise.reject(new Error('archive broke in the test consumer'))],
    [
      'throws',
      () => {
        throw new Error('archive broke in the test consumer');
      },
    ],
  ])("fails with the consumer's error when it %s, without leaving the command blocked", async (_label, broken) => {
    let calls = 0;
    const sink = directSink(() => (++calls === 2 ? broken() : undefined));
    // Far more than a pipe holds: a command whose output nobody reads any more would block.
    const r = await new LocalExecutor('local').run('head -c 67108864 /dev/zero', { stdout: sink });
    expect(r.failed).toBe(true);
    expect(r.cause?.message).toContain('archive broke in the test consumer');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(fifosLeft()).toEqual([]);
  });

  it('returns for a command killed on its timeout while the consumer never finishes', async () => {
    const sink = directSink(() => new Promise<void>(() => {}));
    const r = await new LocalExecutor('local').run('cat /dev/zero', { stdout: sink, timeoutMs: 300 });
    expect(r).toMatchObject({ timedOut: true, failed: true });
    expect(fifosLeft()).toEqual([]);
  });
});
