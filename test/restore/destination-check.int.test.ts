// The one question a `files:` restore step asks the host before it writes
// (engine/restore/destination-check.ts), on this machine through the local executor: the
// answers must line up with the questions whatever the paths hold (newlines, spaces, quotes),
// and a host that answers short must fail the step, never shift answers onto other paths.
// Root: a link is given to uid 65534.
import { lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../engine/executors/local.js';
import type { Executor } from '../../engine/executors/types.js';
import { askDestination } from '../../engine/restore/destination-check.js';
import type { OwnerName } from '../../engine/restore/host-owners.js';

let dir: string;
const executor = new LocalExecutor('local');
const owner = (kind: OwnerName['kind'], name: string): OwnerName => ({ kind, name, id: 1, example: '/x', files: 1 });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lsb-destination-'));
  mkdirSync(join(dir, 'plain'));
  symlinkSync(join(dir, 'plain'), join(dir, "root's\nlink"));
  symlinkSync(join(dir, 'plain'), join(dir, 'nobody link'));
  lchownSync(join(dir, 'nobody link'), 65534, 65534);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('askDestination', () => {
  it('answers each directory and owner name in order, and who the step runs as', async () => {
    const dirs = [join(dir, 'plain'), join(dir, "root's\nlink"), join(dir, 'absent'), join(dir, 'nobody link')];
    const owners = [owner('user', 'root'), owner('user', 'no-such-user-lsb'), owner('group', 'root'), owner('group', 'no-such-group-lsb')];
    const answer = await askDestination(executor, { dirs, owners }, {});
    expect(answer.failed).toBeUndefined();
    if (answer.failed) return;
    expect(answer.stepUid).toBe(process.getuid!());
    expect(answer.links).toEqual([
      { path: join(dir, "root's\nlink"), uid: 0 },
      { path: join(dir, 'nobody link'), uid: 65534 },
    ]);
    expect(answer.missingOwners.map((o) => `${o.kind}:${o.name}`)).toEqual(['user:no-such-user-lsb', 'group:no-such-group-lsb']);
    expect(answer.tarVersion).toMatch(/GNU tar/);
  });

  it('fails when the host answers fewer lines than it was asked', async () => {
    // The real command on this machine, its answer cut after the first line: a host whose xargs
    // stopped early (no host here can be made to do that on purpose).
    const short: Executor = {
      hostName: 'short',
      connect: () => executor.connect(),
      close: () => executor.close(),
      run: async (command, options) => {
        const result = await executor.run(command, options);
        return { ...result, stdout: result.stdout.split('\n').slice(0, 3).join('\n') + '\n' };
      },
    };
    const answer = await askDestination(short, { dirs: [join(dir, 'plain'), join(dir, 'nobody link')], owners: [owner('user', 'root')] }, {});
    expect(answer.failed?.stderr).toMatch(/unexpected answer from the host \(1 answers to 3 questions/);
  });
});
