import { describe, it, expect, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, startPostgresPair, type PostgresServer } from './servers/postgresql.js';
import { isAlive, processesMentioning, pathExists } from './servers/common.js';

describe('PostgreSQL 15 (real server)', () => {
  let pg: PostgresServer | undefined;
  afterAll(async () => pg?.stop());

  it('starts on 127.0.0.1, answers psql, and stops leaving no process or temp dir', async () => {
    pg = await startPostgres();
    await pg.psql('CREATE TABLE t (id int PRIMARY KEY, name text)');
    await pg.psql("INSERT INTO t VALUES (1, 'one'), (2, 'two')");
    expect(await pg.psql('SELECT name FROM t ORDER BY id')).toBe('one\ntwo');
    expect(await pg.psql('SHOW listen_addresses')).toBe('127.0.0.1');
    expect(await pg.psql('SELECT pg_is_in_recovery()')).toBe('f');

    const { pid, baseDir } = pg;
    await pg.stop();
    expect(isAlive(pid)).toBe(false);
    expect(processesMentioning(baseDir)).toEqual([]);
    expect(await pathExists(baseDir)).toBe(false);
  });

  it('restarts on a kept base dir with its data', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'lsb-infra-pgkeep-'));
    const first = await startPostgres({ baseDir });
    await first.psql('CREATE TABLE kept (v text)');
    await first.psql("INSERT INTO kept VALUES ('survives')");
    await first.stop();
    expect(await pathExists(baseDir)).toBe(true);
    pg = await startPostgres({ baseDir });
    expect(await pg.psql('SELECT v FROM kept')).toBe('survives');
    await pg.stop();
    await rm(baseDir, { recursive: true, force: true });
  });

  it('runs a primary + streaming replica that pg_is_in_recovery() tells apart', async () => {
    const pair = await startPostgresPair();
    try {
      expect(await pair.primary.psql('SELECT pg_is_in_recovery()')).toBe('f');
      expect(await pair.replica.psql('SELECT pg_is_in_recovery()')).toBe('t');
      await pair.primary.psql("CREATE TABLE r AS SELECT 'replicated'::text AS v");
      // Replication is asynchronous: poll the replica briefly.
      let seen = '';
      for (let i = 0; i < 50 && seen !== 'replicated'; i++) {
        seen = await pair.replica.psql('SELECT v FROM r').catch(() => '');
        if (seen !== 'replicated') await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toBe('replicated');
    } finally {
      await pair.stop();
    }
    expect(isAlive(pair.primary.pid) || isAlive(pair.replica.pid)).toBe(false);
  });
});
