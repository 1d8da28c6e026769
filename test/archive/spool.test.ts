/**
 * spoolBody: a body up to IN_MEMORY_BODY stays in memory, a larger one goes to a private file;
 * a body that fails leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IN_MEMORY_BODY, MemoryBudget, spoolBody } from '../../engine/archive/spool.js';
import { tempDirPerTest, tricklingBody } from './helpers.js';

describe('spoolBody', () => {
  const dir = tempDirPerTest();

  it.each([0, 5, IN_MEMORY_BODY])('keeps a body of %i bytes in memory, no file', async (size) => {
    const data = randomBytes(size);
    const spooled = await spoolBody(tricklingBody(data, 65536), dir.path, new MemoryBudget());
    expect(spooled).toMatchObject({ kind: 'memory', size });
    expect(spooled.kind === 'memory' && spooled.bytes.equals(data)).toBe(true);
    expect(await readdir(dir.path)).toEqual([]);
  });

  it('writes a larger body to a 0600 file, every byte in order', async () => {
    const data = randomBytes(IN_MEMORY_BODY + 1 + 300_000);
    const spooled = await spoolBody(tricklingBody(data, 32768), dir.path, new MemoryBudget());
    if (spooled.kind !== 'file') throw new Error(`expected a file, got ${spooled.kind}`);
    expect(spooled.size).toBe(data.length);
    expect((await readFile(spooled.path)).equals(data)).toBe(true);
    expect((await stat(spooled.path)).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['before', 100_000],
    ['after', IN_MEMORY_BODY + 100_000],
  ])('fails with the body and leaves no file when the body breaks %s the memory limit', async (_when, at) => {
    let sent = 0;
    const breaking = new Readable({
      read() {
        if (sent >= at) return this.destroy(new Error('ssh channel closed'));
        sent += 65536;
        setImmediate(() => this.push(Buffer.alloc(65536, 1)));
      },
    });
    const budget = new MemoryBudget(IN_MEMORY_BODY);
    await expect(spoolBody(breaking, dir.path, budget)).rejects.toThrow('ssh channel closed');
    expect(await readdir(dir.path)).toEqual([]);
    expect(budget.take(IN_MEMORY_BODY)).toBe(true); // all of it given back
  });

  it('holds bodies in memory only while the shared budget has room, then in files; a file gives its share back', async () => {
    const budget = new MemoryBudget(IN_MEMORY_BODY + 500_000);
    const first = await spoolBody(tricklingBody(randomBytes(IN_MEMORY_BODY), 65536), dir.path, budget);
    expect(first.kind).toBe('memory');
    const second = randomBytes(700_000);
    const spilled = await spoolBody(tricklingBody(second, 65536), dir.path, budget); // does not fit what is left
    if (spilled.kind !== 'file') throw new Error(`expected a file, got ${spilled.kind}`);
    expect((await readFile(spilled.path)).equals(second)).toBe(true);
    expect(await spoolBody(tricklingBody(randomBytes(400_000), 65536), dir.path, budget)).toMatchObject({ kind: 'memory' });
    budget.giveBack(IN_MEMORY_BODY + 400_000); // both appended
    expect(budget.take(IN_MEMORY_BODY + 500_000)).toBe(true);
  });
});
