/**
 * executeRestore's components follow the backup's roll-up rules (engine/runner/component-run.ts):
 * commands run for real on this machine (LocalExecutor); only the staged backup is an empty
 * stand-in, as these restore steps are plain commands that read nothing from it.
 */
import { describe, expect, it } from 'vitest';
import { ExecutorPool } from '../../engine/executors/pool.js';
import { LocalExecutor } from '../../engine/executors/local.js';
import type { Host } from '../../engine/inventory/types.js';
import type { RunEvent } from '../../engine/report/events.js';
import { executeRestore } from '../../engine/restore/execute.js';
import type { RestoreComponent } from '../../engine/restore/plan.js';
import type { StagedBackup } from '../../engine/restore/stage.js';
import type { RenderedStep } from '../../engine/runner/types.js';

const localHost = (name: string): Host => ({ name, groups: ['app'], vars: {}, connection: { kind: 'local', address: name, port: 22, sshArgs: [] } });

const applyStep = (command: string): RenderedStep => ({
  phase: 'apply',
  name: 'apply',
  kind: 'command',
  command,
  env: {},
  timeoutMs: 60_000,
  onError: 'fail',
  enabled: true,
});

function component(name: string, serial: boolean, commands: string[]): RestoreComponent {
  return {
    name,
    serial,
    together: false,
    after: [],
    tasks: commands.map((command, i) => ({
      sourceHost: `old${i}`,
      mapping: 'by name',
      hostPlan: { host: localHost(`h${i}`), steps: [applyStep(command)], transport: 'plain' },
    })),
  };
}

async function restore(components: RestoreComponent[]) {
  const events: RunEvent[] = [];
  const executors = new ExecutorPool(async (host) => new LocalExecutor(host.name));
  const staged = { entries: new Map(), recipes: new Map() } as unknown as StagedBackup;
  try {
    const outcomes = await executeRestore(components, {
      staged,
      executors,
      concurrency: 4,
      signal: new AbortController().signal,
      reporter: { emit: (e) => events.push(e), close: () => undefined },
      keepSpecialModes: false,
    });
    return { outcomes, events };
  } finally {
    await executors.closeAll();
  }
}

describe('restore: a component rolled up from its hosts', () => {
  it('a serial component takes at least as long as its hosts together, in its outcome and its component.end event', async () => {
    // Each host's command takes a moment, so the sum of two is more than either alone.
    const { outcomes, events } = await restore([component('db', true, ['sleep 0.2', 'sleep 0.2'])]);
    const [db] = outcomes;
    expect(db!.status).toBe('success');
    const hostTimes = db!.hosts.map((h) => h.durationMs);
    const sum = hostTimes[0]! + hostTimes[1]!;
    const end = events.find((e) => e.type === 'component.end' && e.component === 'db') as Extract<RunEvent, { type: 'component.end' }>;
    expect(end.durationMs).toBeGreaterThanOrEqual(sum);
    expect(db!.durationMs).toBe(end.durationMs);
  });

  it('a component that failed on one host and worked on the other is partial, naming the failure', async () => {
    const { outcomes } = await restore([component('web', false, ['true', 'echo refused >&2; exit 3'])]);
    expect(outcomes[0]).toMatchObject({ status: 'partial', error: expect.stringMatching(/exit code 3.*refused/) });
  });

  it('a component whose every host failed is failed', async () => {
    const { outcomes } = await restore([component('web', false, ['exit 4', 'exit 5'])]);
    expect(outcomes[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/exit code 4/) });
  });
});
