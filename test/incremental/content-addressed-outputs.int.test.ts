/**
 * Snapshot outputs marked `contentAddressed` (docs/incremental.md), through the built CLI on a
 * real sshd host: in an incremental, a marked output whose sha256 equals the base's is a
 * reference to the backup holding its bytes (no body in the archive, never a reference to a
 * reference), and restore/verify of the chain give it back byte for byte. A changed output, an
 * unmarked one, one whose host has no temporary space, and one whose command fails are never
 * references.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { archiveEntries } from '../helpers/archive.js';
import { cliOutput, runCli } from '../helpers/cli.js';
import { createCluster, type ApplyResult, type Cluster } from '../helpers/cluster.js';
import { waitFor } from '../faults/support.js';

/** Random bytes do not compress: an archive that held this output would be larger than it. */
const MARKED_SIZE = 2 * 1024 * 1024;

const RECIPE = `hosts: { group: app }
vars: { data: /nonexistent, rc: "0", sleep: "0" }
become: true
backup:
  snapshot:
    - name: marked
      run: cat {{vars.data}}/marked.bin
      output: marked.bin
      contentAddressed: true
    - name: changing
      run: cat {{vars.data}}/changing.txt
      output: changing.txt
      contentAddressed: true
    - name: unmarked
      run: cat {{vars.data}}/unmarked.txt
      output: unmarked.txt
    - name: no temporary space
      run: cat {{vars.data}}/unmarked.txt
      output: no-tmp.txt
      contentAddressed: true
      env: { TMPDIR: /nonexistent-lsbackup-tmp }
    - name: fails when asked
      run: cat {{vars.data}}/unmarked.txt; exit {{vars.rc}}
      output: failing.txt
      contentAddressed: true
      onError: continue
    - name: stopped by its timeout (as root)
      run: cat {{vars.data}}/unmarked.txt; sleep {{vars.sleep}}
      output: slow-root.bin
      contentAddressed: true
      timeout: 3
      onError: continue
      env: { TMPDIR: "{{vars.data}}/tmp-root" }
    - name: stopped by its timeout (as the login user)
      run: cat {{vars.data}}/unmarked.txt; sleep {{vars.sleep}}
      output: slow-user.bin
      contentAddressed: true
      timeout: 3
      onError: continue
      become: false
      env: { TMPDIR: "{{vars.data}}/tmp-user" }
restore:
  apply:
    - { input: marked.bin, run: "cat > {{vars.data}}/restored-marked.bin" }
    - { input: changing.txt, run: "cat > {{vars.data}}/restored-changing.txt" }
    - { input: unmarked.txt, run: "cat > {{vars.data}}/restored-unmarked.txt" }
`;

let fleet: Fleet;
let c: Cluster;
let data: string;
beforeAll(async () => {
  fleet = await startFleet({ hosts: 1 });
}, 300_000);
afterAll(async () => fleet?.stop());
beforeEach(async () => {
  c = await createCluster({ fleet, groups: { host1: ['app'] }, dataDirs: true });
  data = c.dataDir('host1');
  await c.writeRecipe('app', RECIPE);
  await writeFile(path.join(data, 'marked.bin'), randomBytes(MARKED_SIZE));
  await writeFile(path.join(data, 'changing.txt'), 'first\n');
  await writeFile(path.join(data, 'unmarked.txt'), 'the same every time\n');
  for (const who of ['root', 'user']) {
    await mkdir(path.join(data, `tmp-${who}`));
    await chmod(path.join(data, `tmp-${who}`), 0o777);
  }
});
afterEach(async () => c?.cleanup());

const entry = (m: BackupMetadata, name: string) => m.entries.find((e) => e.path === `app/host1/${name}`);

async function backup(flags: string[], rc = '0', more: Record<string, unknown> = {}): Promise<ApplyResult & { archive: string; metadata: BackupMetadata }> {
  await c.hostVars('host1', { rc, ...more });
  const run = await c.apply(c.recipes, flags);
  expect(run.archive, cliOutput(run)).toBeDefined();
  return run as ApplyResult & { archive: string; metadata: BackupMetadata };
}

async function restoredEqual(archive: string, extra: string[] = []): Promise<void> {
  const run = await c.restore(archive, extra);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  expect((await readFile(path.join(data, 'restored-marked.bin'))).equals(await readFile(path.join(data, 'marked.bin')))).toBe(true);
  expect(await readFile(path.join(data, 'restored-changing.txt'), 'utf8')).toBe(await readFile(path.join(data, 'changing.txt'), 'utf8'));
  expect(await readFile(path.join(data, 'restored-unmarked.txt'), 'utf8')).toBe('the same every time\n');
}

describe('content-addressed snapshot outputs', () => {
  it('unchanged and marked: a reference, no body; changed or unmarked: stored whole; restore and verify give the bytes back', async () => {
    const full = await backup(['--full']);
    expect(full.exitCode, cliOutput(full)).toBe(0);
    expect(entry(full.metadata, 'marked.bin')).toMatchObject({ size: MARKED_SIZE });
    expect(entry(full.metadata, 'marked.bin')?.ref).toBeUndefined();

    await writeFile(path.join(data, 'changing.txt'), 'second\n');
    const incr = await backup(['--incremental']);
    expect(incr.exitCode, cliOutput(incr)).toBe(0);
    expect(incr.metadata.kind).toBe('incremental');
    expect(entry(incr.metadata, 'marked.bin')).toMatchObject({
      ref: full.metadata.backupId,
      size: MARKED_SIZE,
      sha256: entry(full.metadata, 'marked.bin')!.sha256,
    });
    expect(
      incr.metadata.entries.filter((e) => e.path === 'app/host1/marked.bin'),
      'one record: the reference',
    ).toHaveLength(1);
    const members = await archiveEntries(incr.archive);
    expect(members).not.toContain('app/host1/marked.bin');
    expect((await stat(incr.archive)).size, 'the 2 MiB of random bytes are not in the incremental').toBeLessThan(MARKED_SIZE / 2);
    // Changed: stored whole. Unmarked, or marked on a host without temporary space: stored whole though unchanged.
    for (const name of ['changing.txt', 'unmarked.txt', 'no-tmp.txt']) {
      expect(entry(incr.metadata, name)?.ref, name).toBeUndefined();
      expect(members, name).toContain(`app/host1/${name}`);
    }
    expect(entry(incr.metadata, 'changing.txt')?.size).toBe('second\n'.length);

    const verify = await runCli(['verify', incr.archive], { env: c.env });
    expect(verify.exitCode, cliOutput(verify)).toBe(0);
    await restoredEqual(incr.archive);
  }, 600_000);

  it('in a chain two deep (the host compressing what it sends), the reference names the full that holds the bytes, and restore of the newest gives them back', async () => {
    const zstd = ['-f', 'tar.zst', '--compress', 'remote'];
    const full = await backup(['--full', ...zstd]);
    const first = await backup(['--incremental', ...zstd]);
    await writeFile(path.join(data, 'changing.txt'), 'second\n');
    const second = await backup(['--incremental', ...zstd]);
    expect(second.metadata.base?.backupId).toBe(first.metadata.backupId);
    expect(entry(first.metadata, 'marked.bin')?.ref).toBe(full.metadata.backupId);
    expect(entry(second.metadata, 'marked.bin')?.ref, 'never a reference to a reference').toBe(full.metadata.backupId);
    expect(await archiveEntries(second.archive)).not.toContain('app/host1/marked.bin');
    await restoredEqual(second.archive);
    // Nothing staged: the bases are read again for the hosts (docs/restore.md).
    await rm(path.join(data, 'restored-marked.bin'));
    await restoredEqual(second.archive, ['--stream']);
  }, 600_000);

  it('a failing command leaves no reference (and no entry) for its output', async () => {
    const full = await backup(['--full']);
    expect(entry(full.metadata, 'failing.txt')?.sha256).toBeDefined();
    // Same bytes as the base's on stdout, then exit 3: the output must not count as unchanged.
    const incr = await backup(['--incremental'], '3');
    expect(incr.metadata.kind).toBe('incremental');
    const step = incr.metadata.components[0]!.hosts[0]!.steps.find((s) => s.name === 'fails when asked');
    expect(step?.status).toBe('failed');
    expect(entry(incr.metadata, 'failing.txt')).toBeUndefined();
    expect(await archiveEntries(incr.archive)).not.toContain('app/host1/failing.txt');
    // The other marked output of the same run still is a reference.
    expect(entry(incr.metadata, 'marked.bin')?.ref).toBe(full.metadata.backupId);
  }, 600_000);

  it('a step stopped by its timeout leaves no reference and no temporary file on the host (as root and as the login user)', async () => {
    const full = await backup(['--full']);
    const incr = await backup(['--incremental'], '0', { sleep: '600' });
    for (const [who, label] of [
      ['root', 'as root'],
      ['user', 'as the login user'],
    ]) {
      expect(entry(full.metadata, `slow-${who}.bin`)?.sha256, 'the base has the entry: the incremental runs the wrapper').toBeDefined();
      const step = incr.metadata.components[0]!.hosts[0]!.steps.find((s) => s.name === `stopped by its timeout (${label})`);
      expect(step?.status, who).toBe('failed');
      expect(entry(incr.metadata, `slow-${who}.bin`), who).toBeUndefined();
      const tmp = path.join(data, `tmp-${who}`);
      await waitFor(async () => (await readdir(tmp)).length === 0, 60_000, `the host's temporary files in ${tmp} to go`);
    }
  }, 600_000);
});
