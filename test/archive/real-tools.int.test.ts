/**
 * The archive tests that need Debian packages (test/infra/apt-packages.txt): zstd for tar.zst,
 * unzip for reading zip with the real tool, python3 to count gzip members. Their tar.gz (and, for
 * reading back, zip) halves run in the unit tier: writer.test.ts, verify.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createArchiveWriter } from '../../engine/archive/writer.js';
import { fileSink, gzipMemberCount, run, tempDirPerTest } from './helpers.js';
import { readAndVerify } from './read-and-verify.js';
import { readByRealTools } from './real-tool-read.js';

readByRealTools(['tar.zst', 'zip']);
readAndVerify(['tar.zst']);

describe('tar.gz', () => {
  const dir = tempDirPerTest();

  it('is a multi-member gzip stream that gunzip -t accepts', async () => {
    const big = randomBytes(2_500_000); // spans several 1 MiB gzip members
    const archive = join(dir.path, 'out.tar.gz');
    const writer = createArchiveWriter('tar.gz', fileSink(archive), { spoolDir: dir.path });
    await writer.add({ path: 'a/big', size: big.length }, Readable.from([big]));
    await writer.finish((entries) => ({ entries }));
    expect(gzipMemberCount(archive)).toBeGreaterThanOrEqual(3);
    expect(() => run('gunzip', ['-t', archive])).not.toThrow();
  });
});
