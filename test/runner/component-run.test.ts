import { describe, expect, it } from 'vitest';
import { rollUpStatus, runComponentHosts } from '../../engine/runner/component-run.js';
import type { HostStatus } from '../../engine/runner/types.js';

/** A host's outcome as both backup and restore record it: its status and its own duration. */
interface Outcome {
  name: string;
  status: HostStatus;
  durationMs: number;
  error?: string;
  note?: string;
}

/**
 * A host task that takes some time and measures itself, as runHostTask/restoreHost do. The
 * wait only makes time pass; the assertions compare durations with each other, never with a
 * fixed number.
 */
function host(name: string, status: HostStatus, log: string[] = []) {
  return async (): Promise<Outcome> => {
    const started = Date.now();
    log.push(`start ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 15));
    log.push(`end ${name}`);
    return { name, status, durationMs: Date.now() - started, ...(status === 'failed' ? { error: `${name} broke` } : {}) };
  };
}

const run = (task: () => Promise<Outcome>) => task();

describe('a component rolled up from its hosts (backup and restore alike)', () => {
  it.each<[string, HostStatus[], string]>([
    ['every host succeeded', ['success', 'success'], 'success'],
    ['some succeeded and some failed', ['success', 'failed'], 'partial'],
    ['a success, a failure and a host without it', ['success', 'failed', 'skipped'], 'partial'],
    ['every host failed', ['failed', 'failed'], 'failed'],
    ['one failed and the other had nothing to do', ['failed', 'skipped'], 'failed'],
    ['it succeeded where installed and is not installed elsewhere', ['success', 'skipped'], 'success'],
    ['no host has it installed', ['skipped', 'skipped'], 'skipped'],
    ['it has no hosts at all', [], 'skipped'],
  ])('%s: %s', (_what, statuses, expected) => {
    expect(rollUpStatus(statuses.map((status) => ({ status })))).toBe(expected);
  });

  it("names the first failed host's error when it failed or partly failed, and none when it succeeded", async () => {
    const partial = await runComponentHosts([host('a', 'success'), host('b', 'failed'), host('c', 'failed')], 'parallel', run);
    expect(partial).toMatchObject({ status: 'partial', error: 'b broke' });
    const ok = await runComponentHosts([host('a', 'success')], 'parallel', run);
    expect(ok.status).toBe('success');
    expect(ok).not.toHaveProperty('error');
  });

  it("serial hosts run one after another, and the component's duration is at least their sum", async () => {
    const log: string[] = [];
    const r = await runComponentHosts([host('a', 'success', log), host('b', 'success', log), host('c', 'success', log)], 'serial', run);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    const sum = r.hosts.reduce((total, h) => total + h.durationMs, 0);
    // The longest host alone (the rule restore used) would under-report a serial component.
    expect(r.durationMs).toBeGreaterThan(Math.max(...r.hosts.map((h) => h.durationMs)));
    expect(r.durationMs).toBeGreaterThanOrEqual(sum);
  });

  it("parallel hosts overlap, and the component's duration is at least its longest host", async () => {
    const log: string[] = [];
    const r = await runComponentHosts([host('a', 'success', log), host('b', 'success', log)], 'parallel', run);
    expect(log.slice(0, 2)).toEqual(['start a', 'start b']);
    expect(r.durationMs).toBeGreaterThanOrEqual(Math.max(...r.hosts.map((h) => h.durationMs)));
  });

  it('run: first stops at the first host that did the work; the rest are not needed', async () => {
    const log: string[] = [];
    const tasks = [host('a', 'skipped', log), host('b', 'success', log), host('c', 'success', log)];
    const r = await runComponentHosts(tasks, 'first', run, {
      notNeeded: (): Outcome => ({ name: 'c', status: 'skipped', durationMs: 0, note: 'another host did it' }),
    });
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
    expect(r.hosts.map((h) => h.status)).toEqual(['skipped', 'success', 'skipped']);
    expect(r.status).toBe('success');
  });

  it('run: first with no host doing the work lets the caller decide what that means before the roll-up', async () => {
    const r = await runComponentHosts([host('a', 'skipped'), host('b', 'skipped')], 'first', run, {
      notNeeded: () => {
        throw new Error('no host did the work, so none was left out');
      },
      noHostDidTheWork: (hosts) => hosts.map((h) => ({ ...h, status: 'failed' as const, error: `no host backed it up; here: ${h.name}` })),
    });
    expect(r).toMatchObject({ status: 'failed', error: 'no host backed it up; here: a' });
  });

  it('run: first with clusters (hosts.eachGroup): one host does the work in each cluster, and a cluster none did fails alone', async () => {
    const log: string[] = [];
    // Clusters by the name's letter: a1, a2 in one (a1 does it); b1, b2 in another (b2 does it); c1 in a third (no host does).
    const tasks = [host('a1', 'success', log), host('b1', 'skipped', log), host('a2', 'success', log), host('b2', 'success', log), host('c1', 'skipped', log)];
    const names = new Map(tasks.map((t, i) => [t, ['a1', 'b1', 'a2', 'b2', 'c1'][i]!]));
    const r = await runComponentHosts(tasks, 'first', run, {
      notNeeded: (t): Outcome => ({ name: names.get(t)!, status: 'skipped', durationMs: 0, note: 'another host did it' }),
      noHostDidTheWork: (hosts) => hosts.map((h) => ({ ...h, status: 'failed' as const, error: `no host backed it up; here: ${h.name}` })),
      clusterOf: (t) => names.get(t)![0]!,
    });
    expect(log.filter((l) => l.startsWith('start')).sort()).toEqual(['start a1', 'start b1', 'start b2', 'start c1']);
    // Outcomes stay in the tasks' order.
    expect(r.hosts.map((h) => [h.name, h.status])).toEqual([
      ['a1', 'success'],
      ['b1', 'skipped'],
      ['a2', 'skipped'],
      ['b2', 'success'],
      ['c1', 'failed'],
    ]);
    expect(r).toMatchObject({ status: 'partial', error: 'no host backed it up; here: c1' });
  });
});
