/**
 * `compress: remote` on a real link: one SSH host in its own network namespace behind a veth
 * (test/fleet/netns.ts), backed up through the built CLI. The bytes the host sends are read
 * from the kernel's counters of that link, so the test sees what really crossed the wire
 * (no timing: this machine is shared). Then the link is shaped with tc so a large file is
 * still streaming when its step times out: the cut stream must not leave an entry that
 * passes for good.
 */
import { optedOut } from '../helpers/prerequisites.js';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { netnsUnavailable, startNetnsFleet, type NetnsFleet } from '../fleet/netns.js';
import { archivesIn, componentOf, hostOf, readMetadata } from '../helpers/archive.js';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

const TEXT_LINES = 2_000_000; // `seq`: ~14.9 MB of text; zstd -1 makes ~3.4 MB of it
const BIG_BYTES = 24 * 1024 * 1024; // random: ~12 s at 16 Mbit/s

// Namespaces are required (root, iproute2): without them the tests fail, unless opted out.
const optOut = optedOut('netns', 'Remote compression on a real link (test/cli/compress-remote-wire.int.test.ts)');

let fleet: NetnsFleet;
let ws: Awaited<ReturnType<typeof workspace>>;

describe.skipIf(optOut)('compress: remote on a real link (network namespace)', () => {
  beforeAll(async () => {
    const unavailable = netnsUnavailable();
    if (unavailable) throw new Error(`this test needs network namespaces (root, iproute2; or LSB_TESTS_WITHOUT=netns to leave it out): ${unavailable}`);
    fleet = await startNetnsFleet({ hosts: 1 });
    ws = await workspace('lsb-compress-wire-');
    await execa('sh', [
      '-c',
      `set -e; cd '${ws.dir}'; mkdir -p text big
       seq 1 ${TEXT_LINES} > text/numbers.txt; echo small > big/small.txt
       head -c ${BIG_BYTES} /dev/urandom > big/random.bin
       chmod -R a+rX .`,
    ]);
    fleet.writeInventory(path.join(ws.dir, 'build'), { host1: ['app'] });
    const recipe = (name: string, body: string) => ws.write(`recipes/${name}.yaml`, recipeYaml(name, body));
    await recipe(
      'text',
      `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: cat ${ws.dir}/text/numbers.txt\n      output: numbers.txt\n  collect:\n    - path: ${ws.dir}/text\n`,
    );
    await recipe('big', `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${ws.dir}/big\n      timeout: 3\n`);
    await recipe('ok', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo ok\n      output: ok.txt\n`);
  }, 120_000);
  afterAll(async () => {
    await fleet?.teardown();
    await ws?.cleanup();
  });

  /** apply with these recipes; the new archive's metadata and the bytes host1 sent meanwhile. */
  const apply = async (recipes: string[], extra: string[]) => {
    const target = path.join(ws.dir, 'backups');
    const before = new Set(await archivesIn(target));
    const sentBefore = fleet.sentBytes(0);
    const r = await runCli(
      ['apply', ...recipes.map((n) => path.join(ws.dir, 'recipes', `${n}.yaml`)), '-b', path.join(ws.dir, 'build'), '-t', target, ...extra],
      {
        env: { HOME: path.join(ws.dir, 'home'), SSH_AUTH_SOCK: '' },
        timeoutMs: 180_000,
      },
    );
    const sent = fleet.sentBytes(0) - sentBefore;
    const added = (await archivesIn(target)).filter((n) => !before.has(n));
    const metadata = added.length === 1 ? await readMetadata(path.join(target, added[0]!)) : undefined;
    return { r, sent, metadata };
  };

  it('the host sends far fewer bytes for compressible data, and the archive holds the same entries', async () => {
    await mkdir(path.join(ws.dir, 'home'), { recursive: true });
    const local = await apply(['text'], ['--compress', 'local']);
    expect(local.r.exitCode, cliOutput(local.r)).toBe(0);
    const remote = await apply(['text'], ['--compress', 'remote']);
    expect(remote.r.exitCode, cliOutput(remote.r)).toBe(0);
    const textBytes = 2 * 14_888_896; // the file, once as command output and once collected
    console.log(`bytes host1 sent: --compress local ${local.sent}, --compress remote ${remote.sent} (${(local.sent / remote.sent).toFixed(1)}× fewer)`);
    expect(local.sent).toBeGreaterThan(textBytes);
    expect(remote.sent).toBeLessThan(local.sent / 3);
    expect(facts(remote.metadata!)).toEqual(facts(local.metadata!));
    expect(hostOf(componentOf(remote.metadata!, 'text'), 'host1').transport).toBe('zstd');
  }, 180_000);

  it('a step timing out mid-file under remote compression fails the host and keeps no short entry as good', async () => {
    fleet.throttle(0, '16mbit');
    const { r, metadata } = await apply(['big', 'ok'], ['--compress', 'remote']);
    expect(r.exitCode, cliOutput(r)).toBe(2);
    const big = hostOf(componentOf(metadata!, 'big'), 'host1');
    expect(big.status).toBe('failed');
    expect(big.error).toMatch(/timed out after [3-9]s/);
    // The file was streaming when the step was killed (16 Mbit/s: ~12 s for all of it): its
    // header is in the archive, so its record must say the body is incomplete.
    const random = metadata!.entries.find((e) => e.path.endsWith('/big/random.bin'));
    expect(random, 'random.bin had started streaming').toBeDefined();
    expect(random!.error).toMatch(/the stream from the host ended in the middle of this file/);
    expect(hostOf(componentOf(metadata!, 'ok'), 'host1').status).toBe('success');
  }, 180_000);
});

function facts(meta: BackupMetadata) {
  return meta.entries.map((e) => `${e.path} ${e.type} ${e.mode} ${e.size} ${e.sha256}`).sort();
}
