/**
 * recipes/postgresql.yaml round trip through the built CLI on real sshd hosts (user lsbtest,
 * sudo to postgres) against real PostgreSQL 15 servers on 127.0.0.1: create data → apply →
 * destroy → restore --yes → data equal. With a primary + streaming replica, the dump comes
 * from the primary although the replica is listed first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { PG_BIN, startPostgres, startPostgresPair, waitUntil, type PostgresPair, type PostgresServer } from '../infra/index.js';
import { archiveEntry, componentOf, entrySize, hostOf } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';

const recipe = shippedRecipe('postgresql');

function pgVars(pg: PostgresServer): Record<string, unknown> {
  return {
    psql: path.join(PG_BIN, 'psql'),
    pg_dumpall: path.join(PG_BIN, 'pg_dumpall'),
    pg_host: pg.host,
    pg_port: pg.port,
    pg_config_paths: [path.join(pg.configDir, '*.conf')],
  };
}

async function createShop(pg: PostgresServer): Promise<void> {
  await pg.psql("CREATE ROLE shop_owner LOGIN PASSWORD 'shop-pw' CONNECTION LIMIT 7");
  await pg.psql('CREATE DATABASE shop OWNER shop_owner');
  await pg.psql("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g; ALTER TABLE items OWNER TO shop_owner", 'shop');
}

const shopState = async (pg: PostgresServer) => ({
  rows: await pg.psql('SELECT count(*), sum(id), max(name) FROM items', 'shop'),
  owner: await pg.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'"),
  role: await pg.psql("SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = 'shop_owner'"),
});

describe('postgresql recipe, one server', () => {
  let fleet: Fleet;
  let pg: PostgresServer;
  let b: Cluster;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
    pg = await startPostgres();
    b = await createCluster({ fleet, groups: { host1: ['postgresql'] }, hostVars: { host1: pgVars(pg) } });
  });
  afterAll(async () => {
    await pg?.stop();
    await fleet?.stop();
    await b?.cleanup();
  });

  it('backs up roles, databases and configs, and restores them into a clean cluster', async () => {
    await createShop(pg);
    const before = await shopState(pg);
    expect(before.rows).toBe('500|125250|item 99');

    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const meta = run.metadata!;
    const host = hostOf(componentOf(meta, 'postgresql'), 'host1');
    expect(host.status).toBe('success');
    expect(componentOf(meta, 'postgresql').componentVersion).toMatch(/^15\.\d+$/);
    expect(await archiveEntry(run.archive!, 'postgresql/host1/role.txt')).toBe('primary\n');
    const dump = await archiveEntry(run.archive!, 'postgresql/host1/dumpall.sql');
    expect(dump).toContain('CREATE ROLE shop_owner;');
    expect(dump).toContain('CREATE DATABASE shop');
    expect(entrySize(meta, `postgresql/host1/files${pg.configDir}/postgresql.conf`)).toBeGreaterThan(0);
    expect(entrySize(meta, `postgresql/host1/files${pg.configDir}/pg_hba.conf`)).toBeGreaterThan(0);

    // Destroy: a clean cluster (database and role gone), then restore.
    await pg.psql('DROP DATABASE shop');
    await pg.psql('DROP ROLE shop_owner');
    const r = await b.restore(run.archive!);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await shopState(pg)).toEqual(before);
  });

  it('keeps a role that exists, and refuses to merge into a database that exists', async () => {
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const before = await shopState(pg);

    // The role stays, the database goes: CREATE ROLE fails harmlessly, the rest restores.
    await pg.psql('DROP DATABASE shop');
    await pg.psql('ALTER ROLE shop_owner CONNECTION LIMIT 1');
    const ok = await b.restore(run.archive!);
    expect(ok.exitCode, cliOutput(ok)).toBe(0);
    expect(await shopState(pg)).toEqual(before); // ALTER ROLE from the dump put the limit back

    // The database exists: ON_ERROR_STOP stops at CREATE DATABASE, nothing is merged.
    await pg.psql('DELETE FROM items WHERE id > 10', 'shop');
    const refused = await b.restore(run.archive!);
    expect(refused.exitCode, cliOutput(refused)).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/database "shop" already exists/);
    expect(await pg.psql('SELECT count(*) FROM items', 'shop')).toBe('10');
  });

  it('puts the configuration files back only when asked', async () => {
    const rows = await pg.psql('SELECT count(*) FROM items', 'shop');
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const conf = path.join(pg.configDir, 'postgresql.conf');
    const original = await readFile(conf, 'utf8');
    await appendFile(conf, '\n# changed after the backup\n');

    await pg.psql('DROP DATABASE shop');
    const plain = await b.restore(run.archive!);
    expect(plain.exitCode, cliOutput(plain)).toBe(0);
    expect(await readFile(conf, 'utf8')).toContain('# changed after the backup');

    await pg.psql('DROP DATABASE shop');
    const withConfigs = await b.restore(run.archive!, ['--var', 'postgresql.restore_configs=true']);
    expect(withConfigs.exitCode, cliOutput(withConfigs)).toBe(0);
    expect(await readFile(conf, 'utf8')).toBe(original);
    expect(await pg.psql('SELECT count(*) FROM items', 'shop')).toBe(rows);
  });
});

describe('postgresql recipe, primary + replica', () => {
  let fleet: Fleet;
  let pair: PostgresPair;
  let b: Cluster;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2 });
    pair = await startPostgresPair();
    // The replica is listed first: the recipe must not assume the first host is the primary.
    b = await createCluster({ fleet, groups: { host1: ['postgresql'], host2: ['postgresql'] }, hostVars: {
      host1: pgVars(pair.replica),
      host2: pgVars(pair.primary),
    } });
  });
  afterAll(async () => {
    await pair?.stop();
    await fleet?.stop();
    await b?.cleanup();
  });

  it('dumps on the primary only, keeps configs of both, restores into the primary', async () => {
    await createShop(pair.primary);
    const before = await shopState(pair.primary);

    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const meta = run.metadata!;
    const component = componentOf(meta, 'postgresql');
    expect(component.status).toBe('success');
    expect(hostOf(component, 'host1').status).toBe('success');
    expect(await archiveEntry(run.archive!, 'postgresql/host1/role.txt')).toBe('replica\n');
    expect(await archiveEntry(run.archive!, 'postgresql/host2/role.txt')).toBe('primary\n');
    // metadata.json says where the dump is: empty on the replica, the data on the primary.
    expect(entrySize(meta, 'postgresql/host1/dumpall.sql')).toBe(0);
    expect(entrySize(meta, 'postgresql/host2/dumpall.sql')).toBeGreaterThan(1000);
    expect(await archiveEntry(run.archive!, 'postgresql/host2/dumpall.sql')).toContain('CREATE DATABASE shop');
    for (const [host, pg] of [['host1', pair.replica], ['host2', pair.primary]] as const) {
      expect(entrySize(meta, `postgresql/${host}/files${pg.configDir}/postgresql.conf`), host).toBeGreaterThan(0);
    }

    await pair.primary.psql('DROP DATABASE shop');
    await pair.primary.psql('DROP ROLE shop_owner');
    const r = await b.restore(run.archive!);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await shopState(pair.primary)).toEqual(before);
    // Restored on the primary, it streams to the replica.
    await waitUntil('replica has the restored rows', async () => {
      try {
        return (await pair.replica.psql('SELECT count(*) FROM items', 'shop')) === '500';
      } catch {
        return false;
      }
    }, { timeoutMs: 60_000 });
  });
});
