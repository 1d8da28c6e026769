/**
 * runRestore in-process (unit tier): backups made by runBackup with scripted hosts into a real
 * local directory, restored onto scripted hosts (test/helpers/fake-cluster.ts). Covered here: the
 * status rollup, nothing touched before the whole backup checked out (sidecar digest), dry run and
 * a declined plan, age-encrypted backups, stream mode (also an archive replaced between its two
 * passes, which only in-process can happen exactly between them). The same paths with real hosts: test/cli/restore.int.test.ts,
 * test/faults/safe-restore.int.test.ts, test/faults/restore-writes.int.test.ts,
 * test/faults/encrypted-integrity.int.test.ts, test/cli/restore-order.int.test.ts.
 */
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRestore, type RestoreOptions } from '../../engine/restore/run.js';
import { backupSource } from '../../engine/restore/source.js';
import { createLocalTarget } from '../../targets/local.js';
import { backUp, healthy, INVENTORY, keptEvents, RECIPES, scratch, scriptedHosts, type HostScript, type Scratch } from '../helpers/fake-cluster.js';

let s: Scratch;
beforeEach(async () => {
  s = await scratch('lsb-runrestore-');
});
afterEach(async () => {
  await s.cleanup();
});

/** Hosts that load whatever they are given; `failing` lists `<command>@<host>` whose load exits 1. */
const loading =
  (failing: string[] = []): HostScript =>
  (command, host) =>
    command.startsWith('load-') ? { exitCode: failing.includes(`${command}@${host}`) ? 1 : 0, stderr: 'load refused' } : undefined;

async function restore(backup: Awaited<ReturnType<typeof backUp>>, script: HostScript, extra: Partial<RestoreOptions> & { identities?: string[] } = {}) {
  const { identities, ...options } = extra;
  const hosts = scriptedHosts(script);
  const kept = keptEvents();
  const asked: string[] = [];
  const result = await runRestore({
    source: backupSource(createLocalTarget(backup.targetDir), backup.result.archive!, identities),
    inventory: await s.inventory(INVENTORY),
    installedRecipes: await s.recipes(RECIPES),
    hostMap: new Map(),
    allowRecipeUpgrade: false,
    trustedKeys: [],
    trustCarriedRecipe: false,
    resolveSecrets: async () => new Map(),
    defaultStepTimeoutSec: 60,
    concurrency: 4,
    keepSpecialModes: false,
    stagingDir: await s.subdir('staging'),
    dryRun: false,
    confirm: async (plan) => {
      asked.push(plan);
      return true;
    },
    executorFactory: hosts.factory,
    reporter: kept.reporter,
    signal: new AbortController().signal,
    ...options,
  });
  return { result, calls: hosts.calls, asked, ...kept };
}

describe('runRestore: the status rollup', () => {
  it('each host gets its own backed-up output on stdin: success, exit 0', async () => {
    const backup = await backUp(s, healthy());
    const { result, calls, asked } = await restore(backup, loading());
    expect(result).toMatchObject({ status: 'success', exitCode: 0 });
    expect(asked).toHaveLength(1);
    const loads = calls.filter((c) => c.command.startsWith('load-')).map((c) => [c.host, c.command, c.stdin?.toString()]);
    expect(loads.sort()).toEqual([
      ['db-1', 'load-alpha', 'alpha on db-1\n'],
      ['db-1', 'load-beta', 'beta on db-1\n'],
      ['db-2', 'load-alpha', 'alpha on db-2\n'],
      ['db-2', 'load-beta', 'beta on db-2\n'],
    ]);
  });

  it.each<[string, string[], 'partial' | 'failed', number]>([
    ['one component fails on one host, the other comes back: partial, exit 2', ['load-alpha@db-2'], 'partial', 2],
    ['one component fails on every host, the other comes back: partial, exit 2', ['load-alpha@db-1', 'load-alpha@db-2'], 'partial', 2],
    ['every load fails: failed, exit 1', ['load-alpha@db-1', 'load-alpha@db-2', 'load-beta@db-1', 'load-beta@db-2'], 'failed', 1],
  ])('%s', async (_what, failing, status, exitCode) => {
    const backup = await backUp(s, healthy());
    const { result, events } = await restore(backup, loading(failing));
    expect(result).toMatchObject({ status, exitCode });
    const end = events.find((e) => e.type === 'run.end');
    expect(end).toMatchObject({ status, exitCode });
    // The summary names each failed component x host.
    const rows = end!.type === 'run.end' ? end!.summary : [];
    expect(
      rows
        .filter((r) => r.status === 'failed')
        .map((r) => `load-${r.component}@${r.host}`)
        .sort(),
    ).toEqual(failing);
  });

  it('the only component restored comes back on one host of two: partial, exit 2, as a backup in the same case', async () => {
    const backup = await backUp(s, healthy());
    const { result, events } = await restore(backup, loading(['load-alpha@db-2']), { only: ['alpha'] });
    expect(result).toMatchObject({ status: 'partial', exitCode: 2 });
    expect(events.find((e) => e.type === 'run.end')).toMatchObject({ status: 'partial', exitCode: 2 });
  });

  it('restores only what was backed up: a component that was partial comes back on its good host only', async () => {
    const backup = await backUp(s, healthy({ 'dump-alpha': (h) => (h === 'db-2' ? { exitCode: 1 } : undefined) }));
    expect(backup.result.status).toBe('partial');
    const { result, calls } = await restore(backup, loading());
    expect(result.status).toBe('success');
    expect(calls.filter((c) => c.command === 'load-alpha').map((c) => c.host)).toEqual(['db-1']);
  });

  it('a dry run shows the plan and touches no host; a declined plan is cancelled (exit 1) and touches none', async () => {
    const backup = await backUp(s, healthy());
    const dry = await restore(backup, loading(), { dryRun: true });
    expect(dry.result.status).toBe('dry-run');
    expect(dry.result.planText).toContain('alpha');
    expect(dry.calls).toEqual([]);
    const declined = await restore(backup, loading(), { confirm: async () => false });
    expect(declined.result).toMatchObject({ status: 'cancelled', exitCode: 1 });
    expect(declined.calls).toEqual([]);
  });
});

describe('runRestore: checks before any host is touched', () => {
  it('a .sha256 sidecar that does not match the archive: refused, no host contacted', async () => {
    const backup = await backUp(s, healthy());
    const name = backup.result.archive!;
    await writeFile(path.join(backup.targetDir, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
    const hosts = scriptedHosts(loading());
    await expect(restore(backup, loading(), { executorFactory: hosts.factory })).rejects.toThrow(/sha256|digest|checksum/i);
    expect(hosts.calls).toEqual([]);
  });
});

describe('runRestore: encryption (age)', () => {
  it('an encrypted backup restores with its identity, byte for byte', async () => {
    const identity = await generateIdentity();
    const backup = await backUp(s, healthy(), { encryption: { recipients: [await identityToRecipient(identity)] } });
    const { result, calls } = await restore(backup, loading(), { identities: [identity] });
    expect(result).toMatchObject({ status: 'success', exitCode: 0 });
    expect(
      calls
        .filter((c) => c.command === 'load-alpha')
        .map((c) => c.stdin?.toString())
        .sort(),
    ).toEqual(['alpha on db-1\n', 'alpha on db-2\n']);
  });

  it('without the identity it is refused before any host is touched', async () => {
    const identity = await generateIdentity();
    const backup = await backUp(s, healthy(), { encryption: { recipients: [await identityToRecipient(identity)] } });
    const hosts = scriptedHosts(loading());
    await expect(restore(backup, loading(), { identities: [await generateIdentity()], executorFactory: hosts.factory })).rejects.toThrow();
    expect(hosts.calls).toEqual([]);
  });
});

describe('runRestore: stream mode (docs/restore.md)', () => {
  it('each host gets its own backed-up output, read straight from the archive', async () => {
    const backup = await backUp(s, healthy());
    const { result, calls, asked } = await restore(backup, loading(), { stream: true });
    expect(result).toMatchObject({ status: 'success', exitCode: 0 });
    expect(asked[0]).toContain('Stream mode: nothing staged');
    expect(
      calls
        .filter((c) => c.command.startsWith('load-'))
        .map((c) => `${c.command}@${c.host}: ${c.stdin?.toString()}`)
        .sort(),
    ).toEqual(['load-alpha@db-1: alpha on db-1\n', 'load-alpha@db-2: alpha on db-2\n', 'load-beta@db-1: beta on db-1\n', 'load-beta@db-2: beta on db-2\n']);
  });

  it.each(['alpha', 'beta'])(
    'a component restored after the other (%s first): whichever order the archive holds them in, each host gets its own output',
    async (first) => {
      const second = first === 'alpha' ? 'beta' : 'alpha';
      // The second one's restore waits for the first's: when its entries lie earlier in the archive, they need another read.
      const specs = { ...RECIPES, [second]: RECIPES[second as keyof typeof RECIPES].replace('restore:\n', `restore:\n  after: [${first}]\n`) };
      const backup = await backUp(s, healthy(), { recipeSpecs: specs });
      const { result, calls } = await restore(backup, loading(), { stream: true, installedRecipes: await s.recipes(specs), concurrency: 1 });
      expect(result).toMatchObject({ status: 'success', exitCode: 0 });
      const loads = calls.filter((c) => c.command.startsWith('load-'));
      expect(loads.map((c) => c.command.slice(5)).slice(0, 2)).toEqual([first, first]);
      expect(loads.map((c) => `${c.command}@${c.host}: ${c.stdin?.toString()}`).sort()).toEqual([
        'load-alpha@db-1: alpha on db-1\n',
        'load-alpha@db-2: alpha on db-2\n',
        'load-beta@db-1: beta on db-1\n',
        'load-beta@db-2: beta on db-2\n',
      ]);
    },
  );

  it('the archive replaced between the verify pass and the restore pass: no host gets a changed entry whole, each load fails naming the change, exit 1', async () => {
    const verified = await backUp(s, healthy());
    const other = await backUp(s, healthy({ 'dump-alpha': (host) => ({ stdout: `ANOTHER alpha on ${host}\n` }), 'dump-beta': { stdout: 'ANOTHER beta\n' } }));
    const name = verified.result.archive!;
    const { result, calls, events, warnings } = await restore(verified, loading(), {
      stream: true,
      // Called between the passes: another backup's bytes under the verified name.
      confirm: async () => {
        await copyFile(path.join(other.targetDir, other.result.archive!), path.join(verified.targetDir, name));
        return true;
      },
    });
    expect(result).toMatchObject({ status: 'failed', exitCode: 1 });
    for (const load of calls.filter((c) => c.command.startsWith('load-'))) {
      expect(load.stdin?.toString() ?? '', `${load.command}@${load.host} got a changed entry whole`).not.toMatch(/ANOTHER/);
    }
    const ends = events.flatMap((e) => (e.type === 'host.end' ? [e] : []));
    expect(ends.length).toBeGreaterThan(0);
    for (const end of ends)
      expect(end, 'every host is reported, failed with the reason').toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/changed after it was verified/),
      });
    expect(warnings().join('\n')).toContain(`${name} changed after it was verified`);
    expect(warnings().join('\n')).toContain('the rest of the restore is refused');
  });
});
