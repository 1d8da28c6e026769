/**
 * A read of a stored archive that breaks after N bytes (a download cut, a target gone away) is
 * said as a broken read, naming the archive and the read's reason, where the bytes that arrived
 * end: by `verify`, restore's staging pass, and `restore --stream`'s two passes (the second, the
 * archive read again for the hosts, breaking when the first did not); for a plain archive, an
 * age-encrypted one and a chain whose base's read breaks. Every byte that arrived is read before
 * the failure is said. The links between the target and the archive reader (counting, hashing,
 * decryption) passed a failure on by destroying the next link, which dropped what it held for the
 * reader, and the failure was named in the entry before the one the read broke in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { openTarget } from '../../targets/registry.js';
import type { Target } from '../../targets/types.js';
import { verifyBackup } from '../../engine/catalog/verify.js';
import { recordVerifyFindings } from '../../engine/catalog/damage.js';
import { damageMarkerName } from '../../engine/archive/index.js';
import { renderVerify } from '../../engine/catalog/render.js';
import { formatBytes } from '../../engine/report/format.js';
import { backupSource } from '../../engine/restore/source.js';
import { recordedBlocks, stageBackup } from '../../engine/restore/stage.js';
import { stageChain } from '../../engine/restore/chain.js';
import { SecondPass } from '../../engine/restore/second-pass.js';

const CUT = 'connection reset by peer (the test cut the read)';
const AGE_CHUNK = 64 * 1024;
const AGE_TAG = 16;

let ws: Awaited<ReturnType<typeof workspace>>;
let identity: string;
let tree: string;

/** A stored archive of the fixture: where it is, its bytes, and its gzip's (the ciphertext's plaintext when encrypted). */
interface Stored {
  dir: string;
  name: string;
  bytes: Buffer;
  gz: Buffer;
  encrypted: boolean;
}
const archives: Record<'plain' | 'encrypted' | 'base' | 'incremental', Stored> = {} as never;

async function apply(dir: string, extra: string[]): Promise<string> {
  const before = new Set(await readdir(dir).catch(() => []));
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', dir, '--format', 'tar.gz', '-q', ...extra], {
    timeoutMs: 300_000,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  return (await readdir(dir)).find((n) => !before.has(n) && /\.tar\.gz(\.age)?$/.test(n))!;
}

async function loaded(dir: string, name: string): Promise<Stored> {
  const bytes = await readFile(path.join(dir, name));
  const encrypted = name.endsWith('.age');
  let gz = bytes;
  if (encrypted) {
    const d = new Decrypter();
    d.addIdentity(identity);
    gz = Buffer.from(await d.decrypt(bytes));
  }
  return { dir, name, bytes, gz, encrypted };
}

beforeAll(async () => {
  ws = await workspace('lsb-broken-read-');
  tree = path.join(ws.dir, 'tree');
  const build = path.join(ws.dir, 'build');
  const recipes = path.join(ws.dir, 'recipes');
  await Promise.all([mkdir(tree), mkdir(build), mkdir(recipes)]);
  // Incompressible: the stored bytes follow the entries one for one.
  await writeFile(path.join(tree, 'a.bin'), randomBytes(1024 * 1024));
  await writeFile(path.join(tree, 'b.bin'), randomBytes(1024 * 1024));
  await writeFile(path.join(build, 'inventory'), '[app]\nlocalhost ansible_connection=local\n');
  await writeFile(
    path.join(recipes, 'app.yaml'),
    recipeYaml('app', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${tree}\nrestore:\n  apply:\n    - files: ${tree}`),
  );
  identity = await generateIdentity();
  const plainDir = path.join(ws.dir, 'plain');
  const encryptedDir = path.join(ws.dir, 'encrypted');
  const chainDir = path.join(ws.dir, 'chain');
  archives.plain = await loaded(plainDir, await apply(plainDir, []));
  archives.encrypted = await loaded(encryptedDir, await apply(encryptedDir, ['--encrypt-to', await identityToRecipient(identity)]));
  archives.base = await loaded(chainDir, await apply(chainDir, ['--full']));
  await writeFile(path.join(tree, 'c.txt'), 'changed after the full\n');
  archives.incremental = await loaded(chainDir, await apply(chainDir, ['--incremental']));
}, 600_000);
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

/** How much of the tar the first `n` bytes of the gzip give (what gunzip can make of them). */
const tarBytesOf = (gz: Buffer, n: number) => gunzipSync(gz.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH }).length;

/** The fewest bytes of the gzip that give at least `tarBytes` of the tar. */
function gzBytesFor(gz: Buffer, tarBytes: number): number {
  let [low, high] = [0, gz.length];
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (tarBytesOf(gz, mid) >= tarBytes) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** The end of an age file's header (where its payload's nonce starts). */
function ageHeaderBytes(file: Buffer): number {
  const mac = file.indexOf('\n--- ');
  return file.indexOf('\n', mac + 1) + 1;
}

/**
 * Where to cut `archive`'s stored bytes so that its tar reaches `into` bytes into the body of
 * its second .bin entry (b.bin), and that entry's path. An encrypted archive is decrypted in
 * whole 64 KiB chunks: the cut is at the end of the chunk after the one holding that byte.
 */
function cutInSecondEntry(archive: Stored, into: number): { n: number; entry: string } {
  const second = tarEntries(gunzipSync(archive.gz)).filter((e) => e.path.endsWith('.bin'))[1]!;
  let n = gzBytesFor(archive.gz, second.start + into);
  if (archive.encrypted) {
    const chunks = Math.ceil(n / AGE_CHUNK) + 1;
    n = ageHeaderBytes(archive.bytes) + 16 + chunks * (AGE_CHUNK + AGE_TAG);
    const plain = Math.min(archive.gz.length, chunks * AGE_CHUNK);
    const reached = tarBytesOf(archive.gz, plain);
    expect(reached < second.end, `the cut at ${n} reaches at most tar byte ${reached}`).toBe(true);
  } else {
    const reached = tarBytesOf(archive.gz, n);
    expect(reached > second.start && reached < second.end, `the cut at ${n} reaches tar byte ${reached}`).toBe(true);
  }
  return { n, entry: second.path };
}

/**
 * `bytes` read as a download that breaks after `n` of them: each of them is handed on (taken by
 * the next link) before the read fails, as bytes that arrived before a reset are.
 */
function cutAfter(bytes: Buffer, n: number): Readable {
  let sent = 0;
  const out = new Readable({
    read() {
      if (sent < n) {
        const piece = bytes.subarray(sent, Math.min(n, sent + 64 * 1024));
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

/** `archive`'s local target, whose reads of it numbered in `broken` (1: the first) break after `n` bytes. */
async function brokenTarget(archive: Stored, n: number, broken: number[] = [1]): Promise<Target> {
  const local = await openTarget(archive.dir);
  let reads = 0;
  return new Proxy(local, {
    get(t, key) {
      if (key === 'get') {
        return async (object: string) => (object === archive.name && broken.includes(++reads) ? cutAfter(archive.bytes, n) : t.get(object));
      }
      const value = Reflect.get(t, key) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

const identities = () => [identity];
let staging = 0;
async function stagingDir(): Promise<string> {
  const dir = path.join(ws.dir, `staging-${++staging}`);
  await mkdir(dir);
  return dir;
}

/** A broken read as every reader says it: where it broke off, and the read's reason. */
const brokenRead = (entry: string) => `the read broke off in entry '${entry}': ${CUT}`;
/** As verify says it (of the archive its report names, or the chain member it is prefixed with). */
const verifySays = (entry: string) => `${brokenRead(entry)}; what follows was not checked: verify again`;
/** As restore says it, before any host is touched. */
const restoreSays = (name: string, entry: string) => `Restore of ${name} refused before any host was touched: ${brokenRead(entry)}; run the restore again`;

// The cut 4 KiB into b.bin's body (just past an entry boundary), and in its middle.
const CUTS = [
  ['just past the start of', 4096],
  ['in the middle of', 512 * 1024],
] as const;

describe.each(['plain', 'encrypted'] as const)('a read of a %s archive that breaks after N bytes', (kind) => {
  it.each(CUTS)(
    'breaks %s the second entry: verify and staging say the broken read, naming that entry and the reason',
    async (_where, into) => {
      const archive = archives[kind];
      const { n, entry } = cutInSecondEntry(archive, into);

      const report = await verifyBackup(await brokenTarget(archive, n), archive.name, { identities: identities() });
      expect(report.ok).toBe(false);
      expect(report.problems.filter((p) => p.kind !== 'note').map((p) => p.message)).toEqual([verifySays(entry)]);
      expect(report.readBroken).toEqual([archive.name]);
      expect(report.damaged).toBeUndefined();

      const source = backupSource(await brokenTarget(archive, n), archive.name, identities());
      const opened = await source.openMeasured();
      const staged = stageBackup(opened.stream, {
        backup: archive.name,
        format: 'tar.gz',
        stagingDir: await stagingDir(),
        components: () => true,
        storedSha256: opened.storedSha256,
      });
      await expect(staged).rejects.toThrow(restoreSays(archive.name, entry));
    },
    300_000,
  );

  it.each(CUTS)(
    "restore --stream: the first pass's read breaks %s the second entry: said as the broken read; the second pass's read breaks there: the step's body fails with it",
    async (_where, into) => {
      const archive = archives[kind];
      const { n, entry } = cutInSecondEntry(archive, into);
      const stage = async (target: Target) => {
        const opened = await backupSource(target, archive.name, identities()).openMeasured();
        return stageBackup(opened.stream, {
          backup: archive.name,
          format: 'tar.gz',
          stagingDir: await stagingDir(),
          components: () => false,
          storedSha256: opened.storedSha256,
          recordBlocks: true,
        });
      };
      await expect(stage(await brokenTarget(archive, n))).rejects.toThrow(restoreSays(archive.name, entry));

      // The first pass reads it whole; the second, for the hosts, breaks.
      const target = await brokenTarget(archive, n, [2]);
      const verified = await stage(target);
      const source = backupSource(target, archive.name, identities());
      const refusals: string[] = [];
      const pass = new SecondPass(
        [{ name: archive.name, order: verified.order, blocks: recordedBlocks(verified, archive.name), source, format: 'tar.gz' }],
        (m) => refusals.push(m),
      );
      const record = verified.metadata.entries.find((e) => e.path === entry)!;
      const bodies = pass.bodies([{ archive: archive.name, path: entry, size: record.size, sha256: record.sha256! }]);
      const body = await bodies.next().catch((e: Error) => e);
      const read = (async () => {
        if (body instanceof Error) throw body;
        for await (const chunk of body) void chunk;
      })();
      // Said by the bytes that arrived: the block check holds back what follows the last whole
      // checked block, so the reader is still in an entry before the one the read broke in.
      const said = `${archive.name}, read again for the hosts: the read broke off after ${n} bytes: ${CUT}; the rest of the restore is refused`;
      await expect(read).rejects.toThrow(said);
      bodies.close();
      expect(refusals).toEqual([said]);
    },
    300_000,
  );
});

describe("a read that breaks, and verify's second read for the digest that breaks too", () => {
  it('verify reports what it checked and both broken reads, marks nothing damaged, and removes no earlier marker', async () => {
    const archive = archives.plain;
    const { n, entry } = cutInSecondEntry(archive, 512 * 1024);
    const target = await brokenTarget(archive, n, [1, 2]);
    const report = await verifyBackup(target, archive.name, {});
    expect(report).toMatchObject({ ok: false, sha256: '', readBroken: [archive.name] });
    expect(report.damaged).toBeUndefined();
    expect(report.entriesChecked).toBeUndefined();
    expect(report.problems.map((p) => p.message)).toEqual([
      `reading it again for its stored digest broke off too: ${CUT}; the digest was not checked: verify again`,
      verifySays(entry),
    ]);
    expect(renderVerify(report).split('\n')[1]).toBe(`  stored digest  NOT CHECKED: its read broke off before the end (${formatBytes(n)})`);
    // Marked damaged by an earlier verify: a read that broke off neither confirms nor clears it.
    const marker = await target.put(damageMarkerName(archive.name));
    await new Promise<void>((done) => marker.stream.end('{}\n', done));
    await marker.commit();
    expect(await recordVerifyFindings(target, report, 'lsbackup verify')).toEqual({ cleared: [] });
    expect(await target.stat(damageMarkerName(archive.name))).toBeDefined();
    await target.delete(damageMarkerName(archive.name));
  }, 300_000);
});

describe("a chain whose base's read breaks", () => {
  it.each(CUTS)(
    'breaks %s its second entry: verify keeps the chain report and names the base and the reason, not as damage; staging refuses naming them',
    async (_where, into) => {
      const { base, incremental } = archives;
      const { n, entry } = cutInSecondEntry(base, into);
      const report = await verifyBackup(await brokenTarget(base, n), incremental.name, {});
      expect(report.ok).toBe(false);
      expect(report.chain).toEqual([base.name]);
      expect(report.damaged).toBeUndefined();
      expect(report.problems.filter((p) => p.kind !== 'note').map((p) => p.message)).toEqual([`${base.name}: ${verifySays(entry)}`]);
      expect(report.readBroken).toEqual([base.name]);

      const target = await brokenTarget(base, n);
      const source = backupSource(target, incremental.name, undefined);
      const dir = await stagingDir();
      const newest = await stageBackup((await source.openMeasured()).stream, {
        backup: incremental.name,
        format: 'tar.gz',
        stagingDir: dir,
        components: () => true,
      });
      await expect(stageChain(newest, source, { stagingDir: dir, components: () => true })).rejects.toThrow(restoreSays(base.name, entry));
    },
    300_000,
  );
});
