/**
 * A read of a stored archive that breaks after N bytes (a download cut, a target gone away) is
 * reported where the bytes that arrived end, with the read's reason, by `verify` and by
 * restore's staging pass: every byte that arrived is read before the failure is said. The
 * links between the target and the archive reader (counting, hashing, decryption) passed a
 * failure on by destroying the next link, which dropped what it held for the reader, and the
 * failure was named in the entry before the one the read broke in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { openTarget } from '../../targets/registry.js';
import type { Target } from '../../targets/types.js';
import { verifyBackup } from '../../engine/catalog/verify.js';
import { backupSource } from '../../engine/restore/source.js';
import { stageBackup } from '../../engine/restore/stage.js';

const CUT = 'connection reset by peer (the test cut the read)';

let ws: Awaited<ReturnType<typeof workspace>>;
let target: string;
let name: string;
let stored: Buffer;

beforeAll(async () => {
  ws = await workspace('lsb-broken-read-');
  const tree = path.join(ws.dir, 'tree');
  const build = path.join(ws.dir, 'build');
  const recipes = path.join(ws.dir, 'recipes');
  target = path.join(ws.dir, 'backups');
  await Promise.all([mkdir(tree), mkdir(build), mkdir(recipes)]);
  // Incompressible: the stored bytes follow the entries one for one.
  await writeFile(path.join(tree, 'a.bin'), randomBytes(1024 * 1024));
  await writeFile(path.join(tree, 'b.bin'), randomBytes(1024 * 1024));
  await writeFile(path.join(build, 'inventory'), '[app]\nlocalhost ansible_connection=local\n');
  await writeFile(
    path.join(recipes, 'app.yaml'),
    recipeYaml('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\nrestore:\n  apply:\n    - files: ${tree}`),
  );
  const apply = await runCli(['apply', recipes, '-b', build, '-t', target, '--format', 'tar.gz', '-q'], { timeoutMs: 300_000 });
  expect(apply.exitCode, apply.stderr).toBe(0);
  name = (await readdir(target)).find((n) => n.endsWith('.tar.gz'))!;
  stored = await readFile(path.join(target, name));
}, 300_000);
afterAll(async () => ws?.cleanup());

/** The tar entries (path, where its body starts and ends) in `tar`'s bytes, pax headers read. */
function tarEntries(tar: Buffer): { path: string; start: number; end: number }[] {
  const entries: { path: string; start: number; end: number }[] = [];
  let paxPath: string | undefined;
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    const start = at + 512;
    if (type === 'x') paxPath = /\d+ path=(.*)\n/.exec(tar.subarray(start, start + size).toString('utf8'))?.[1];
    else if (type !== 'g') {
      const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/, '');
      const short = header.subarray(0, 100).toString('utf8').replace(/\0.*$/, '');
      entries.push({ path: (paxPath ?? (prefix ? `${prefix}/${short}` : short)).replace(/\/+$/, ''), start, end: start + size });
      paxPath = undefined;
    }
    at = start + Math.ceil(size / 512) * 512;
  }
  return entries;
}

/** How much of the tar the first `n` stored bytes give (what gunzip can make of them). */
const tarBytesOf = (n: number) => gunzipSync(stored.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH }).length;

/** The fewest stored bytes that give at least `tarBytes` of the tar. */
function storedBytesFor(tarBytes: number): number {
  let [low, high] = [0, stored.length];
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (tarBytesOf(mid) >= tarBytes) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * The stored archive, read as a download that breaks after `n` bytes: each of them is handed on
 * (taken by the next link) before the read fails, as bytes that arrived before a reset are.
 */
function cutAfter(n: number): Readable {
  let sent = 0;
  const out = new Readable({
    read() {
      if (sent < n) {
        const piece = stored.subarray(sent, Math.min(n, sent + 64 * 1024));
        sent += piece.length;
        this.push(piece);
        return;
      }
      const fail = () => (out.readableLength === 0 ? out.destroy(new Error(CUT)) : setImmediate(fail));
      setImmediate(fail);
    },
  });
  return out;
}

/** The local target, whose first read of the archive breaks after `n` bytes (verify reads it again for its digest). */
async function brokenTarget(n: number): Promise<Target> {
  const local = await openTarget(target);
  let broken = false;
  return new Proxy(local, {
    get(t, key) {
      if (key === 'get') return async (object: string) => (object === name && !broken ? ((broken = true), cutAfter(n)) : t.get(object));
      const value = Reflect.get(t, key) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

describe('a read that breaks after N bytes is reported where they end, with its reason', () => {
  // The cut 4 KiB into b.bin's body (just past an entry boundary), and in its middle.
  it.each([
    ['just past the start of', 4096],
    ['in the middle of', 512 * 1024],
  ])(
    'the read breaks %s the second entry: verify and staging name that entry and the read reason',
    async (_where, into) => {
      const entries = tarEntries(gunzipSync(stored)).filter((e) => e.path.endsWith('.bin'));
      const second = entries[1]!;
      const n = storedBytesFor(second.start + into);
      const reached = tarBytesOf(n);
      expect(reached > second.start && reached < second.end, `the cut at ${n} reaches tar byte ${reached}`).toBe(true);

      const report = await verifyBackup(await brokenTarget(n), name);
      const unreadable = report.problems.filter((p) => p.kind === 'unreadable').map((p) => p.message);
      expect(unreadable).toEqual([`entry '${second.path}': the archive is damaged: Archive tar: ${CUT}`]);

      const source = backupSource(await brokenTarget(n), name, undefined);
      const opened = await source.openMeasured();
      const stagingDir = path.join(ws.dir, `staging-${into}`);
      await mkdir(stagingDir);
      const staging = stageBackup(opened.stream, { backup: name, format: 'tar.gz', stagingDir, components: () => true });
      await expect(staging).rejects.toThrow(`the archive is damaged or truncated while reading entry '${second.path}': Archive tar: ${CUT}`);
    },
    300_000,
  );
});
