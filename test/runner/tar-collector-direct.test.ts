/**
 * A local host's tar stream into archive entries through the reused-buffer path (the collector
 * takes chunks directly: engine/executors/direct-chunks.ts, engine/executors/local-stdout.ts):
 * real tar, real archive writer. Every entry's sha256 is right, a stream cut short or damaged
 * fails the step with the same errors as before, and zip (whose entry streams keep chunks)
 * does not get a reused buffer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import type { ArchiveFormat } from '../../engine/archive/types.js';
import { directConsumer } from '../../engine/executors/direct-chunks.js';
import { LocalExecutor } from '../../engine/executors/local.js';
import { tarCreate } from '../../engine/runner/collect-command.js';
import { TarCollector } from '../../engine/runner/tar-collector.js';
import { shellQuote } from '../../engine/template/index.js';
import { fileSink, tempDir } from '../archive/helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let data: string;
const files: Record<string, Buffer> = {
  'big.bin': randomBytes(3 * 1024 * 1024 + 17),
  'small.conf': Buffer.from('key = value\n'),
  empty: Buffer.alloc(0),
  'sub/mid.log': randomBytes(70_000),
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeEach(async () => {
  dir = await tempDir('lsb-collect-direct-');
  data = join(dir.path, 'data');
  mkdirSync(join(data, 'sub'), { recursive: true });
  for (const [name, body] of Object.entries(files)) writeFileSync(join(data, name), body);
  symlinkSync('small.conf', join(data, 'link'));
});
afterEach(() => dir.cleanup());

/** Runs `command` on the local executor into a collector over a fresh archive of `format`. */
async function collect(command: string, format: ArchiveFormat) {
  const writer = createArchiveWriter(format, fileSink(join(dir.path, `out.${format}`)), { spoolDir: dir.path });
  const collector = new TarCollector(writer, 'c/h/files', () => {}); // the prefix filesPrefix() gives a run's collect;
  const result = await new LocalExecutor('local').run(command, { stdout: collector.sink });
  const collected = await collector.finish();
  await writer.abort();
  return { result, collected, stored: collector.stored(), direct: directConsumer(collector.sink) !== undefined };
}

const createCommand = () => `${tarCreate([])} -C ${shellQuote(dir.path)} data`;

describe('a local collect through the reused buffer', () => {
  it.each<[ArchiveFormat, boolean]>([
    ['tar.gz', true],
    ['zip', false],
  ])('%s: every entry has the sha256 of its file (reused buffer: %s)', async (format, reused) => {
    const { result, collected, stored, direct } = await collect(createCommand(), format);
    expect(direct).toBe(reused);
    expect(result).toMatchObject({ exitCode: 0, failed: false });
    expect(collected.error).toBeUndefined();
    for (const [name, body] of Object.entries(files)) {
      expect(stored.get(`c/h/files/data/${name}`), name).toMatchObject({ size: body.length, sha256: sha(body) });
    }
    expect(stored.get('c/h/files/data/link')).toMatchObject({ type: 'symlink', linkpath: 'small.conf' });
  });

  it('fails the step naming the file when the stream is cut short inside it', async () => {
    const tarFile = join(dir.path, 'whole.tar');
    execFileSync('sh', ['-c', `${createCommand()} > ${shellQuote(tarFile)}`]);
    const whole = readFileSync(tarFile);
    // Halfway into big.bin's body.
    const start = whole.indexOf(files['big.bin']!.subarray(0, 64));
    expect(start).toBeGreaterThan(0);
    const cut = start + 1024 * 1024;
    const { collected, stored } = await collect(`head -c ${cut} ${shellQuote(tarFile)}`, 'tar.gz');
    expect(collected.error?.message).toBe('the stream from the host was cut short in data/big.bin');
    expect(stored.get('c/h/files/data/big.bin')).toBeUndefined(); // recorded with its error by the writer, not as stored
  });

  it('fails the step when the stream is damaged (a header with a bad checksum)', async () => {
    const tarFile = join(dir.path, 'damaged.tar');
    execFileSync('sh', ['-c', `${createCommand()} > ${shellQuote(tarFile)}`]);
    const bytes = readFileSync(tarFile);
    const at = bytes.indexOf(Buffer.from('small.conf\0'));
    expect(at).toBeGreaterThan(0);
    bytes[at] = 'S'.charCodeAt(0); // the name changes, the checksum does not
    writeFileSync(tarFile, bytes);
    const { collected } = await collect(`cat ${shellQuote(tarFile)}`, 'tar.gz');
    expect(collected.error?.message).toBe('a tar header has a bad checksum: the stream is not tar or is damaged');
  });
});
