/**
 * An incremental collect's stdout is a header line, the host's manifest, then tar
 * (engine/runner/incremental-stream.ts). SSH cuts it into chunks anywhere: the split must not
 * depend on where, and what is not such a stream is an error, not a manifest.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManifestSplitter } from '../../engine/runner/incremental-stream.js';

function collecting(): { sink: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { sink: new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }), bytes: () => Buffer.concat(parts) };
}

async function split(stream: Buffer, chunk: number) {
  const tar = collecting();
  const splitter = new ManifestSplitter(tar.sink);
  for (let i = 0; i < stream.length; i += chunk) {
    await new Promise<void>((resolve, reject) => splitter.sink.write(stream.subarray(i, i + chunk), (e) => (e ? reject(e) : resolve())));
  }
  return { ...(await splitter.finish()), tar: tar.bytes() };
}

describe('ManifestSplitter', () => {
  const manifest = Buffer.concat([Buffer.from('1.5 3 644 0 0 7 1.5 /a b\n'), Buffer.from([0]), Buffer.from('1.5 3 644 0 0 8 1.5 /x'), Buffer.from([0xff, 0])]);
  const tar = Buffer.alloc(1536, 7);
  const stream = Buffer.concat([Buffer.from(`lsbackup-manifest ${manifest.length}\n`), manifest, tar]);

  it.each([1, 3, 17, 4096])('gives the manifest and passes the tar stream on whole, in chunks of %i bytes', async (chunk) => {
    const got = await split(stream, chunk);
    expect(got.error).toBeUndefined();
    expect(got.manifest.equals(manifest)).toBe(true);
    expect(got.tar.equals(tar)).toBe(true);
  });

  it("gives the host's listing time when the header has one (a collect's; a content-addressed output's has none)", async () => {
    const timed = Buffer.concat([Buffer.from(`lsbackup-manifest ${manifest.length} 1796642621.5\n`), manifest, tar]);
    const got = await split(timed, 5);
    expect(got.listedAt).toBe(1796642621.5);
    expect(got.manifest.equals(manifest)).toBe(true);
    expect((await split(stream, 5)).listedAt).toBeUndefined();
  });

  it('an empty stream (no collect path left) is an empty manifest and no tar', async () => {
    const got = await split(Buffer.alloc(0), 1);
    expect(got).toEqual({ manifest: Buffer.alloc(0), tar: Buffer.alloc(0) });
  });

  it('a stream without the header, or cut inside the manifest, is an error and nothing reaches tar', async () => {
    expect((await split(tar, 512)).error).toBe('the host sent no manifest header');
    const cut = await split(stream.subarray(0, 30), 7);
    expect(cut.error).toBe('the host manifest was cut short');
    expect(cut.tar.length).toBe(0);
  });
});
