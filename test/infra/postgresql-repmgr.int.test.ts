import { describe, it, expect } from 'vitest';
import { startRepmgrCluster } from './servers/postgresql-repmgr.js';
import { isAlive, pathExists, processesMentioning, waitUntil } from './servers/common.js';

describe('PostgreSQL 15 + repmgr (real primary and standby)', () => {
  it('registers both nodes, streams to the standby, and stops leaving nothing', async () => {
    const cluster = await startRepmgrCluster();
    try {
      expect(await cluster.healthy()).toBe(true);
      const shown = await cluster.primary.repmgr(['cluster', 'show']);
      expect(shown).toMatch(/pg1\s+\|\s+primary\s+\|\s+\* running/);
      expect(shown).toMatch(/pg2\s+\|\s+standby\s+\|\s+running\s+\|\s+pg1/);
      expect(await cluster.standby.psql('SELECT pg_is_in_recovery()')).toBe('t');
      await cluster.primary.psql("CREATE TABLE r AS SELECT 'replicated'::text AS v");
      await waitUntil('standby has the row', async () => (await cluster.standby.psql('SELECT v FROM r').catch(() => '')) === 'replicated', {
        timeoutMs: 60_000,
      });
      expect(await pathExists(`${cluster.pgbouncerDir}/pgbouncer.ini`)).toBe(true);
    } finally {
      await cluster.stop();
    }
    for (const node of [cluster.primary, cluster.standby]) {
      expect(isAlive(node.pid)).toBe(false);
      expect(processesMentioning(node.baseDir)).toEqual([]);
      expect(await pathExists(node.baseDir)).toBe(false);
    }
  });
});
