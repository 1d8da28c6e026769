/**
 * list, prune and a job's retention read each backup's `.metadata.json` sidecar only up to its
 * entry list (engine/archive/metadata-head.ts): the stream is closed there, so a 20 MB sidecar
 * costs its first few KiB. What that reading must get right: the top-level "entries" member and
 * no other string that reads "entries", wherever the chunks break, and never more than it needs.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readMetadataHeadText } from '../../engine/archive/metadata-head.js';
import { readMetadataHead } from '../../engine/archive/read-metadata.js';
import { metadataSample as sample } from '../helpers/metadata-sample.js';

const NAME = 'lsbackup-prod-20260101T000000Z.tar.gz';
const LIMIT = 1024 * 1024;

/** `text` in chunks of `size` bytes. */
function chunked(text: string, size: number): Readable {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

describe('reading metadata.json up to its entry list', () => {
  it('gives the head of what lsbackup writes, with an empty entry list, wherever the chunks break', async () => {
    const { entries: _entries, ...head } = sample;
    const text = JSON.stringify(sample) + '\n';
    for (const size of [1, 2, 3, 7, 64, text.length]) {
      expect(JSON.parse(await readMetadataHeadText(chunked(text, size), LIMIT, 'm')), `chunks of ${size}`).toEqual({ ...head, entries: [] });
    }
    expect(await readMetadataHead(chunked(text, 5), NAME, 'm')).toEqual(head);
  });

  it('takes only the top-level member named entries: not a value, a nested name, a longer or escaped name', async () => {
    const text = JSON.stringify({
      a: 'entries',
      b: ['entries', { entries: 1 }],
      'entries\u0000': 2,
      entriesX: 3,
      'x"entries': 4,
      c: 'a "quoted" \\ entries',
      d: { e: { entries: [1, 2] } },
      entries: [{ path: 'p' }],
    });
    const head = JSON.parse(await readMetadataHeadText(chunked(text, 3), LIMIT, 'm'));
    expect(head).toEqual({ ...JSON.parse(text), entries: [] });
    // Pretty-printed, with space before the colon.
    const pretty = '{\n  "cluster" : "entries",\n  "entries"\t :\n [ {"p": 1} ]\n}';
    expect(JSON.parse(await readMetadataHeadText(chunked(pretty, 4), LIMIT, 'm'))).toEqual({ cluster: 'entries', entries: [] });
  });

  it('stops reading at the entry list and closes the stream: the rest is never asked for', async () => {
    let asked = 0;
    const prefix = Buffer.from(JSON.stringify({ ...sample, entries: undefined }).slice(0, -1) + ',"entries":[');
    // A stream that never ends: it gives the head and the start of the list, then one more entry per read.
    const body = new Readable({
      read() {
        this.push(asked++ === 0 ? prefix : Buffer.from('{"path":"x","size":1},'));
      },
    });
    const { entries: _entries, ...head } = sample;
    expect(await readMetadataHead(body, NAME, 'm')).toEqual(head);
    expect(body.destroyed).toBe(true);
    expect(asked).toBeLessThanOrEqual(2);
  });

  it('without a top-level entry list: the whole text, which the schema then refuses; past the limit: an error', async () => {
    const { entries: _entries, ...head } = sample;
    const text = JSON.stringify({ ...head, other: { entries: [] } });
    expect(await readMetadataHeadText(chunked(text, 10), LIMIT, 'm')).toBe(text);
    await expect(readMetadataHead(chunked(text, 10), NAME, 'm')).rejects.toMatchObject({ code: 'EMETADATA' });
    await expect(readMetadataHeadText(chunked(text, 10), 100, 'the sidecar')).rejects.toThrow(/the sidecar is larger than 100 bytes/);
  });
});
