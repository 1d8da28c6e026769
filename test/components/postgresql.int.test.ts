/**
 * recipes/postgresql.yaml round trip through the built CLI on real sshd hosts (user lsbtest,
 * sudo to postgres) against real PostgreSQL 15 servers on 127.0.0.1: create data → apply →
 * destroy → restore --yes → data equal. With a primary + streaming replica, the dump comes
 * from the primary although the replica is listed first. With repmgr (LambdaStack's replication,
 * switched on by the build dir's manifest.yml), restore leaves repmgr's database and roles to
 * the live cluster and ends with the standby replaying the restored data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import {
  PG_BIN,
  REPMGR_BIN,
  startPostgres,
  startPostgresPair,
  startRepmgrCluster,
  pathExists,
  waitUntil,
  type PostgresPair,
  type PostgresServer,
  type RepmgrCluster,
  type RepmgrNode,
} from '../infra/index.js';
import { archiveEntry, componentOf, entrySize, hostOf, storedBackup } from '../helpers/archive.js';
import { cliOutput, type CliResult } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';
import { expectRoundTrip, recipeTest } from '../helpers/recipe-test.js';

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
  await pg.psql(
    "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g; ALTER TABLE items OWNER TO shop_owner",
    'shop',
  );
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

  it("round-trips the recipe's test role, database and rows through recipe test; the backup holds role, dump and configs", async () => {
    const into = path.join(b.dir, 'recipe-test');
    await expectRoundTrip(recipe, ['-b', b.build, '-t', into], { env: b.env });
    const { file, meta } = await storedBackup(into);
    expect(hostOf(componentOf(meta, 'postgresql'), 'host1').status).toBe('success');
    expect(componentOf(meta, 'postgresql').componentVersion).toMatch(/^15\.\d+$/);
    expect(await archiveEntry(file, 'postgresql/host1/role.txt')).toBe('primary\n');
    const dump = await archiveEntry(file, 'postgresql/host1/dumpall.sql');
    expect(dump).toContain('CREATE ROLE lsbackup_recipe_test;');
    expect(dump).toContain('CREATE DATABASE lsbackup_recipe_test');
    expect(entrySize(meta, `postgresql/host1/files${pg.configDir}/postgresql.conf`)).toBeGreaterThan(0);
    expect(entrySize(meta, `postgresql/host1/files${pg.configDir}/pg_hba.conf`)).toBeGreaterThan(0);
    // The test data goes again: a restore refuses databases that exist, and the tests below restore whole dumps.
    await pg.psql('DROP DATABASE lsbackup_recipe_test');
    await pg.psql('DROP ROLE lsbackup_recipe_test');
  });

  it('keeps a role that exists, and refuses to merge into a database that exists', async () => {
    await createShop(pg);
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

  describe('with restore_configs, the restore reads what PostgreSQL made of the files it put back', () => {
    // Only the roles are played back (no database is named), so the databases of the tests above stay.
    const configsOnly = ['--var', 'postgresql.restore_configs=true', '--var', 'postgresql.restore_databases=no_such_database'];
    const conf = () => path.join(pg.configDir, 'postgresql.conf');

    /** The copies restore `pre` keeps, still in the config directory. */
    const keptCopies = async () => (await readdir(pg.configDir)).filter((n) => n.endsWith('.lsbackup-prev'));

    /** After a refused restore: the file as it was before the restore, and no kept copy left. */
    async function expectPutBack(file: string, before: string, restored: CliResult): Promise<void> {
      expect(cliOutput(restored)).toContain('the previous files are back and reloaded:');
      expect(await readFile(file, 'utf8')).toBe(before);
      expect(await keptCopies()).toEqual([]);
    }

    /**
     * Backs up with `edit` appended to `file` on disk (never reloaded), puts the file back as it
     * was, restores that backup with restore_configs and hands the result to `check` with the
     * edit's first line and the file as it was; then the file is as it was, and reloaded.
     */
    async function restoreEdited(file: string, edit: string, check: (restored: CliResult, editLine: number, before: string) => Promise<void>): Promise<void> {
      const original = await readFile(file, 'utf8');
      const body = original.endsWith('\n') ? original : `${original}\n`;
      try {
        await writeFile(file, `${body}${edit}\n`);
        const run = await b.apply(recipe);
        expect(run.exitCode, cliOutput(run)).toBe(0);
        await writeFile(file, original);
        await pg.psql('SELECT pg_reload_conf()');
        await check(await b.restore(run.archive!, configsOnly), body.split('\n').length, original);
      } finally {
        await writeFile(file, original);
        await pg.psql('SELECT pg_reload_conf()');
      }
    }

    it('fails naming file, line and parameter when PostgreSQL refuses the restored postgresql.conf, and the server keeps its settings', async () => {
      const workMem = await pg.psql('SHOW work_mem');
      await restoreEdited(conf(), 'work_mem = 64MB\nlsbackup_no_such_parameter = 1', async (restored, line, before) => {
        const output = cliOutput(restored);
        expect(restored.exitCode, output).not.toBe(0);
        expect(output).toContain('PostgreSQL refuses the restored configuration');
        expect(output).toContain(`${conf()}:${line + 1}: lsbackup_no_such_parameter: unrecognized configuration parameter`);
        // An unknown parameter makes PostgreSQL refuse the whole file: work_mem is as it was.
        expect(await pg.psql('SHOW work_mem')).toBe(workMem);
        await expectPutBack(conf(), before, restored);
      });
    });

    it('puts the previous postgresql.conf back and reloads it when PostgreSQL took part of the restored one', async () => {
      const workMem = await pg.psql('SHOW work_mem');
      await restoreEdited(conf(), "work_mem = 5MB\nshared_buffers = 'lots'", async (restored, line, before) => {
        expect(restored.exitCode, cliOutput(restored)).not.toBe(0);
        expect(cliOutput(restored)).toContain(`${conf()}:${line + 1}: shared_buffers: setting could not be applied`);
        // A bad value refuses only its line: the reload took work_mem, the put-back's reload undid it.
        expect(await pg.psql('SHOW work_mem')).toBe(workMem);
        await expectPutBack(conf(), before, restored);
      });
    });

    it('fails naming the line of a pg_hba.conf rule PostgreSQL refuses', async () => {
      const hba = path.join(pg.configDir, 'pg_hba.conf');
      await restoreEdited(hba, 'host all all 192.0.2.1 no-such-method', async (restored, line, before) => {
        expect(restored.exitCode, cliOutput(restored)).not.toBe(0);
        expect(cliOutput(restored)).toContain(`${hba}:${line}: `);
        await expectPutBack(hba, before, restored);
      });
    });

    it('fails naming the line of a pg_ident.conf mapping PostgreSQL refuses', async () => {
      const ident = path.join(pg.configDir, 'pg_ident.conf');
      await restoreEdited(ident, 'lsbackup_map', async (restored, line, before) => {
        expect(restored.exitCode, cliOutput(restored)).not.toBe(0);
        expect(cliOutput(restored)).toContain(`${ident}:${line}: missing entry at end of line`);
        await expectPutBack(ident, before, restored);
      });
    });

    it('applies what a reload can, and names the settings that need a restart', async () => {
      const maxConnections = Number(await pg.psql('SHOW max_connections'));
      await restoreEdited(conf(), `work_mem = 7MB\nmax_connections = ${maxConnections + 3}`, async (restored) => {
        expect(restored.exitCode, cliOutput(restored)).toBe(0);
        expect(await pg.psql('SHOW work_mem')).toBe('7MB');
        expect(cliOutput(restored)).toMatch(/take effect when PostgreSQL restarts: max_connections/);
        expect(await keptCopies()).toEqual([]);
      });
    });
  });

  it('round-trips through recipe test on a cluster with other databases when restore_databases names the test database', async () => {
    const rows = await pg.psql('SELECT count(*), sum(id) FROM items', 'shop');
    // Every database of the dump: CREATE DATABASE shop stops the restore (nothing is merged).
    const whole = await recipeTest(recipe, ['-b', b.build], { env: b.env });
    expect(whole.stages.at(-1), cliOutput(whole)).toMatchObject({ stage: 'restore', status: 'failed' });
    expect(whole.events.find((e) => e.type === 'step.end' && e.status === 'failed')?.error).toMatch(/database "shop" already exists/);

    await expectRoundTrip(recipe, ['-b', b.build, '--var', 'postgresql.restore_databases=lsbackup_recipe_test'], { env: b.env });
    expect(await pg.psql('SELECT count(*), sum(id) FROM items', 'shop')).toBe(rows);
  });

  /**
   * Disaster recovery into a rebuilt cluster: Ansible gave the new VM its own repmgr.conf (another
   * node_name and conninfo host) and a pg_hba.conf naming the new cluster's addresses; the
   * backup's name the old cluster's node, which is gone.
   */
  it("keeps this host's own configuration when the backup's repmgr.conf names another cluster's node, and restores the databases; the same node gets the backup's", async () => {
    const repmgrConf = path.join(pg.configDir, 'repmgr.conf');
    const hba = path.join(pg.configDir, 'pg_hba.conf');
    const hbaOriginal = await readFile(hba, 'utf8');
    const nodeConf = (name: string, address: string) =>
      `node_id=1\nnode_name='${name}'\nconninfo='host=${address} user=ls_repmgr dbname=ls_repmgr connect_timeout=2'\n`;
    const hbaFor = (address: string) => `${hbaOriginal}host replication ls_repmgr ${address}/32 scram-sha-256\n`;
    const withConfigs = ['--var', 'postgresql.restore_configs=true', '--var', 'postgresql.restore_databases=shop', '--verbose'];
    const rows = await pg.psql('SELECT count(*), sum(id) FROM items', 'shop');
    try {
      await writeFile(repmgrConf, nodeConf('old-vm-1', '192.0.2.11'));
      await writeFile(hba, hbaFor('192.0.2.11'));
      await pg.psql('SELECT pg_reload_conf()');
      const run = await b.apply(recipe);
      expect(run.exitCode, cliOutput(run)).toBe(0);

      // The old cluster is lost; Ansible gave the rebuilt VM its own configuration.
      await writeFile(repmgrConf, nodeConf('new-vm-1', '198.51.100.21'));
      await writeFile(hba, hbaFor('198.51.100.21'));
      await pg.psql('SELECT pg_reload_conf()');
      await pg.psql('DROP DATABASE shop');
      const rebuilt = await b.restore(run.archive!, withConfigs);
      expect(rebuilt.exitCode, cliOutput(rebuilt)).toBe(0);
      expect(cliOutput(rebuilt)).toContain(
        "postgresql: the backup's configuration names another cluster's node (host=192.0.2.11 node_name=old-vm-1): this host keeps its own configuration files (host=198.51.100.21 node_name=new-vm-1)",
      );
      expect(await readFile(repmgrConf, 'utf8')).toBe(nodeConf('new-vm-1', '198.51.100.21'));
      expect(await readFile(hba, 'utf8')).toBe(hbaFor('198.51.100.21'));
      expect(await pg.psql("SELECT count(*) FROM pg_hba_file_rules WHERE '198.51.100.21' = address")).toBe('1');
      expect(await pg.psql('SELECT count(*), sum(id) FROM items', 'shop')).toBe(rows);
      expect((await readdir(pg.configDir)).filter((n) => n.endsWith('.lsbackup-prev'))).toEqual([]);

      // The same node (its pg_hba.conf edited since the backup): the backup's files come back.
      await writeFile(repmgrConf, nodeConf('old-vm-1', '192.0.2.11'));
      await writeFile(hba, hbaOriginal);
      await pg.psql('DROP DATABASE shop');
      const same = await b.restore(run.archive!, withConfigs);
      expect(same.exitCode, cliOutput(same)).toBe(0);
      expect(cliOutput(same)).not.toContain('node_name=old-vm-1): this host keeps its own');
      expect(await readFile(hba, 'utf8')).toBe(hbaFor('192.0.2.11'));
      expect(await pg.psql('SELECT count(*), sum(id) FROM items', 'shop')).toBe(rows);
    } finally {
      await rm(repmgrConf, { force: true });
      await writeFile(hba, hbaOriginal);
      await pg.psql('SELECT pg_reload_conf()');
    }
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
    b = await createCluster({
      fleet,
      groups: { host1: ['postgresql'], host2: ['postgresql'] },
      hostVars: {
        host1: pgVars(pair.replica),
        host2: pgVars(pair.primary),
      },
    });
  });
  afterAll(async () => {
    await pair?.stop();
    await fleet?.stop();
    await b?.cleanup();
  });

  it('round-trips through recipe test with the replica listed first: dump from the primary only, configs of both, restored into the primary and streamed to the replica', async () => {
    const into = path.join(b.dir, 'recipe-test');
    await expectRoundTrip(recipe, ['-b', b.build, '-t', into], { env: b.env });
    const { file, meta } = await storedBackup(into);
    const component = componentOf(meta, 'postgresql');
    expect(component.status).toBe('success');
    expect(hostOf(component, 'host1').status).toBe('success');
    expect(await archiveEntry(file, 'postgresql/host1/role.txt')).toBe('replica\n');
    expect(await archiveEntry(file, 'postgresql/host2/role.txt')).toBe('primary\n');
    // metadata.json says where the dump is: empty on the replica, the data on the primary.
    expect(entrySize(meta, 'postgresql/host1/dumpall.sql')).toBe(0);
    expect(entrySize(meta, 'postgresql/host2/dumpall.sql')).toBeGreaterThan(1000);
    expect(await archiveEntry(file, 'postgresql/host2/dumpall.sql')).toContain('CREATE DATABASE lsbackup_recipe_test');
    for (const [host, pg] of [
      ['host1', pair.replica],
      ['host2', pair.primary],
    ] as const) {
      expect(entrySize(meta, `postgresql/${host}/files${pg.configDir}/postgresql.conf`), host).toBeGreaterThan(0);
    }
    // Restored on the primary (recipe test's check), it streams to the replica.
    await waitUntil(
      'replica has the restored rows',
      async () => {
        try {
          return (await pair.replica.psql('SELECT count(*) FROM items', 'lsbackup_recipe_test')) === '500';
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000 },
    );
  });
});

// As `lscli apply` saves it: replication on, LambdaStack's default names (schema defaults).
const MANIFEST = `kind: lambdastack-cluster
name: default
specification:
  name: pgcluster
---
kind: configuration/postgresql
name: default
specification:
  extensions:
    pgbouncer:
      enabled: true
    replication:
      enabled: true
      replication_user_name: ls_repmgr
      replication_user_password: repl-pw
      privileged_user_name: ls_repmgr_admin
      privileged_user_password: admin-pw
      repmgr_database: ls_repmgr
`;

describe('postgresql recipe, repmgr primary + standby (LambdaStack replication)', () => {
  let fleet: Fleet;
  let cluster: RepmgrCluster;
  let b: Cluster;
  // Only where this machine differs from a LambdaStack host: binaries and config file places.
  const nodeVars = (node: RepmgrNode, pgbouncer: string[]) => ({
    ...pgVars(node),
    repmgr: REPMGR_BIN,
    repmgr_config_file: node.repmgrConf,
    repmgr_config_paths: [node.repmgrConf],
    pgbouncer_config_paths: pgbouncer,
  });
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2 });
    cluster = await startRepmgrCluster();
    // The standby is listed first.
    b = await createCluster({
      fleet,
      groups: { host1: ['postgresql'], host2: ['postgresql'] },
      hostVars: {
        host1: nodeVars(cluster.standby, []),
        host2: nodeVars(cluster.primary, [path.join(cluster.pgbouncerDir, '*')]),
      },
    });
    await writeFile(path.join(b.build, 'manifest.yml'), MANIFEST);
  });
  afterAll(async () => {
    await cluster?.stop();
    await fleet?.stop();
    await b?.cleanup();
  });

  const repmgrSteps = (jsonLines: string) =>
    jsonLines
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; step?: string; host?: string; status?: string })
      .filter((e) => e.type === 'step.end' && e.step?.startsWith('repmgr:'))
      .map((e) => `${e.host} ${e.status}`)
      .sort();
  const standbyRows = () => cluster.standby.psql('SELECT count(*) FROM items', 'shop').catch(() => 'none');
  const adminPassword = () => cluster.primary.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'ls_repmgr_admin'");

  it('backs up repmgr and pgbouncer config; restore keeps ls_repmgr and its roles, and the standby has the data', async () => {
    const { primary, standby } = cluster;
    await createShop(primary);
    const before = await shopState(primary);

    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const meta = run.metadata!;
    expect(await archiveEntry(run.archive!, 'postgresql/host1/role.txt')).toBe('replica\n');
    expect(await archiveEntry(run.archive!, 'postgresql/host2/role.txt')).toBe('primary\n');
    expect(entrySize(meta, 'postgresql/host1/dumpall.sql')).toBe(0);
    // The dump is the whole cluster, repmgr's database included; restore is what leaves it out.
    expect(await archiveEntry(run.archive!, 'postgresql/host2/dumpall.sql')).toContain('-- Database "ls_repmgr" dump');
    expect(entrySize(meta, `postgresql/host1/files${standby.repmgrConf}`)).toBeGreaterThan(0);
    expect(entrySize(meta, `postgresql/host2/files${primary.repmgrConf}`)).toBeGreaterThan(0);
    expect(entrySize(meta, `postgresql/host2/files${cluster.pgbouncerDir}/pgbouncer.ini`)).toBeGreaterThan(0);
    expect(entrySize(meta, `postgresql/host2/files${cluster.pgbouncerDir}/userlist.txt`)).toBeGreaterThan(0);

    // Destroy the data; the repmgr admin's password changes after the backup (the live cluster's .pgpass has the new one).
    await primary.psql('DROP DATABASE shop');
    await primary.psql('DROP ROLE shop_owner');
    await primary.psql("ALTER ROLE ls_repmgr_admin PASSWORD 'rotated-after-backup'");
    const livePassword = await adminPassword();
    const nodesBefore = await primary.psql('SELECT node_id, type, active FROM repmgr.nodes ORDER BY node_id', 'ls_repmgr');

    const r = await b.restore(run.archive!, ['--json']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    // replication: true came from manifest.yml (no var says so): the repmgr steps ran on both hosts.
    expect(repmgrSteps(r.stdout)).toEqual(['host1 success', 'host2 success']);
    expect(await shopState(primary)).toEqual(before);
    // The restore ends only once the standby replayed it: no waiting here.
    expect(await standbyRows()).toBe('500');
    expect(await standby.psql('SELECT pg_is_in_recovery()')).toBe('t');
    expect(await adminPassword()).toBe(livePassword);
    expect(await primary.psql('SELECT node_id, type, active FROM repmgr.nodes ORDER BY node_id', 'ls_repmgr')).toBe(nodesBefore);
    expect(await cluster.healthy()).toBe(true);
  });

  it('re-clones a standby that does not stream, and it ends with the restored data', async () => {
    const { primary, standby } = cluster;
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const before = await shopState(primary);

    // The standby loses its upstream: its WAL receiver cannot connect any more.
    await standby.psql("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=ls_repmgr connect_timeout=2'");
    await standby.psql('SELECT pg_reload_conf()');
    await waitUntil('standby stops streaming', async () => (await standby.psql('SELECT count(*) FROM pg_stat_wal_receiver')) === '0', { timeoutMs: 60_000 });
    await primary.psql('DROP DATABASE shop');
    await primary.psql('DROP ROLE shop_owner');
    expect(await standbyRows()).toBe('500'); // stale: the drop never reached it

    const r = await b.restore(run.archive!, [...shopOnly, '--var', 'postgresql.standby_stream_wait_seconds=5']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await shopState(primary)).toEqual(before);
    expect(await standby.psql('SELECT status FROM pg_stat_wal_receiver')).toBe('streaming');
    expect(await standby.psql("SELECT count(*) FROM pg_stat_wal_receiver WHERE conninfo LIKE '%port=" + primary.port + "%'")).toBe('1');
    expect(await standbyRows()).toBe('500');
    expect(await cluster.healthy()).toBe(true);
  });

  it('after a failover, the dump of the old primary (a standby now) goes to the new primary', async () => {
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    expect(await archiveEntry(run.archive!, 'postgresql/host2/role.txt')).toBe('primary\n');
    const before = await shopState(cluster.primary);

    await cluster.failover(); // host1 (pg2) is the primary now, host2 (pg1) its standby
    const { primary, standby } = cluster;
    expect(primary.nodeName).toBe('pg2');
    await primary.psql('DROP DATABASE shop');
    await primary.psql('DROP ROLE shop_owner');

    const r = await b.restore(run.archive!);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(await shopState(primary)).toEqual(before);
    expect(await standbyRows()).toBe('500');
    expect(await standby.psql('SELECT pg_is_in_recovery()')).toBe('t');
    expect(await cluster.healthy()).toBe(true);
  });

  it('round-trips through recipe test with replication (databases of the earlier tests kept by restore_databases): the standby replayed it', async () => {
    await expectRoundTrip(recipe, ['-b', b.build, '--var', 'postgresql.restore_databases=lsbackup_recipe_test'], { env: b.env });
    // The restore ends only once the standby replayed it: no waiting here.
    expect(await cluster.standby.psql('SELECT count(*) FROM items', 'lsbackup_recipe_test')).toBe('500');
    expect(await cluster.healthy()).toBe(true);
  });
  // LambdaStack on Debian: repmgr's service_stop_command is `sudo systemctl stop postgresql`, which
  // stops the umbrella unit and returns before postgresql@<ver>-main is down (its role stops both
  // units for that reason). Stood in for by pg_ctl stop -W (no wait) in the standby's repmgr.conf.
  const withAsyncStop = async (node: RepmgrNode, mode: 'smart' | 'fast', body: () => Promise<void>) => {
    const original = await readFile(node.repmgrConf, 'utf8');
    const stopLine = /^(service_stop_command='.*) -w -m fast (.*)$/m;
    expect(original).toMatch(stopLine);
    await writeFile(node.repmgrConf, original.replace(stopLine, `$1 -W -m ${mode} $2`));
    try {
      await body();
    } finally {
      await writeFile(node.repmgrConf, original);
    }
  };
  const loseUpstream = async (standby: RepmgrNode) => {
    await standby.psql("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=ls_repmgr connect_timeout=2'");
    await standby.psql('SELECT pg_reload_conf()');
    await waitUntil('standby stops streaming', async () => (await standby.psql('SELECT count(*) FROM pg_stat_wal_receiver')) === '0', { timeoutMs: 60_000 });
  };
  // The recipe test's database, left by the test before, exists: only shop is played back.
  const shopOnly = ['--var', 'postgresql.restore_databases=shop'];
  const quickWaits = [...shopOnly, '--var', 'postgresql.standby_stream_wait_seconds=5', '--var', 'postgresql.standby_replay_wait_seconds=5'];

  it('never re-clones over a standby still running after the stop command returned: it waits, and says so when the server never stops', async () => {
    const { primary, standby } = cluster;
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    await loseUpstream(standby);
    await primary.psql('DROP DATABASE shop');
    await primary.psql('DROP ROLE shop_owner');
    // An open session keeps a smart shutdown from ending: the server stays up whatever the timing.
    const session = execa(path.join(PG_BIN, 'psql'), ['-X', '-q', '-d', 'postgres'], { env: { ...process.env, ...standby.env }, stdin: 'pipe', reject: false });
    await waitUntil(
      'the held session is connected',
      async () => Number(await standby.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")) >= 2,
    );
    try {
      await withAsyncStop(standby, 'smart', async () => {
        const r = await b.restore(run.archive!, [...quickWaits, '--var', 'postgresql.standby_stop_wait_seconds=5']);
        expect(r.exitCode, cliOutput(r)).not.toBe(0);
        // The step's own error (the rendered command, shown too, holds the same words). Before,
        // repmgr's: "appears to contain a running PostgreSQL instance".
        expect(cliOutput(r)).toMatch(
          /apply step 'repmgr: the standbys follow the restored primary' FAILED: .*this standby's PostgreSQL still runs 5 s after repmgr's service stop command returned/,
        );
      });
    } finally {
      session.stdin!.end();
      await session;
    }
    await waitUntil('the standby stopped', async () => !(await pathExists(path.join(standby.dataDir, 'postmaster.pid'))), { timeoutMs: 60_000 });
    await standby.repmgr(['node', 'service', '--action=start']);
  });

  it('re-clones a standby whose stop command returns before the server is down, once it is down', async () => {
    const { primary, standby } = cluster;
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const before = await shopState(primary);
    await loseUpstream(standby);
    await primary.psql('DROP DATABASE shop');
    await primary.psql('DROP ROLE shop_owner');
    await withAsyncStop(standby, 'fast', async () => {
      const r = await b.restore(run.archive!, [...shopOnly, '--var', 'postgresql.standby_stream_wait_seconds=5']);
      expect(r.exitCode, cliOutput(r)).toBe(0);
    });
    expect(await shopState(primary)).toEqual(before);
    expect(await standby.psql('SELECT status FROM pg_stat_wal_receiver')).toBe('streaming');
    expect(await standbyRows()).toBe('500');
    expect(await cluster.healthy()).toBe(true);
  });
});
