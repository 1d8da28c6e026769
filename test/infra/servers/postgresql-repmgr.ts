/**
 * A real repmgr cluster of two PostgreSQL 15 servers laid out as LambdaStack's postgresql role
 * sets one up with replication (see its tasks/extensions/replication): the primary runs with
 * repmgr preloaded, LambdaStack's WAL settings, the roles ls_repmgr (REPLICATION) and
 * ls_repmgr_admin (SUPERUSER) and the database ls_repmgr; `repmgr primary register`, then
 * `repmgr standby clone` + `standby register` on the standby. Each node has its repmgr.conf in
 * `<base>/etc/repmgr/15/` (LambdaStack's RHEL place). No systemd here: the service commands in
 * repmgr.conf are pg_ctl, so `repmgr node service` can stop and start a node. The primary also
 * gets LambdaStack's pgbouncer configuration files (`<base>/etc/pgbouncer`; no pgbouncer runs).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOOPBACK, type BaseServerOptions, chownTree, freePort, prepareBaseDir, runChecked, waitUntil } from './common.js';
import { PG_BIN, launchPostgres, serverOptions, startPostgres, type PostgresServer } from './postgresql.js';
import { requireCommand } from '../../helpers/prerequisites.js';

const PG_USER = 'postgres';
export const REPMGR_BIN = join(PG_BIN, 'repmgr');
export const REPMGR_DATABASE = 'ls_repmgr';
export const REPMGR_USER = 'ls_repmgr';
export const REPMGR_ADMIN = 'ls_repmgr_admin';

export interface RepmgrNode extends PostgresServer {
  nodeId: number;
  nodeName: string;
  /** This node's repmgr.conf. */
  repmgrConf: string;
  /** Runs repmgr with this node's repmgr.conf as postgres; returns stdout. */
  repmgr(args: string[]): Promise<string>;
}

export interface RepmgrCluster {
  primary: RepmgrNode;
  standby: RepmgrNode;
  /** The primary's /etc/pgbouncer stand-in: pgbouncer.ini and userlist.txt as LambdaStack writes them. */
  pgbouncerDir: string;
  /**
   * A failover as repmgr does it, then the old primary rejoined: the primary stops, the standby
   * is promoted, the old primary is re-cloned from it and registered as its standby. `primary`
   * and `standby` swap.
   */
  failover(): Promise<void>;
  /** True when `repmgr cluster show` (from the primary) exits 0 and lists a running primary and a running standby. */
  healthy(): Promise<boolean>;
  /** Stops the standby, then the primary. */
  stop(): Promise<void>;
}

/** LambdaStack's configuration/postgresql parameters for replication (schema defaults). */
const REPLICATION_CONF = [
  "shared_preload_libraries = 'repmgr'",
  'wal_level = replica',
  'archive_mode = on',
  "archive_command = '/bin/true'",
  'max_wal_senders = 10',
  'wal_keep_size = 500',
  'hot_standby = on',
];

function repmgrConf(o: { nodeId: number; nodeName: string; port: number; baseDir: string; dataDir: string; socketDir: string }): string {
  const pgCtl = (action: string) =>
    `${join(PG_BIN, 'pg_ctl')} -D ${o.dataDir} -l ${join(o.baseDir, 'postgres.log')} -w -m fast -o "${serverOptions(o.port, o.socketDir)}" ${action}`;
  return [
    `node_id=${o.nodeId}`,
    `node_name='${o.nodeName}'`,
    `conninfo='host=${LOOPBACK} port=${o.port} user=${REPMGR_USER} dbname=${REPMGR_DATABASE} connect_timeout=2'`,
    `data_directory='${o.dataDir}'`,
    `pg_bindir='${PG_BIN}/'`,
    `service_start_command='${pgCtl('start')}'`,
    `service_stop_command='${pgCtl('stop')}'`,
    `service_restart_command='${pgCtl('restart')}'`,
    `service_reload_command='${join(PG_BIN, 'pg_ctl')} -D ${o.dataDir} reload'`,
    '',
  ].join('\n');
}

async function writeRepmgrConf(baseDir: string, conf: string): Promise<string> {
  const dir = join(baseDir, 'etc', 'repmgr', '15');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'repmgr.conf');
  await writeFile(file, conf, { mode: 0o600 });
  await chownTree(join(baseDir, 'etc'), PG_USER);
  return file;
}

const runRepmgr = (conf: string) => async (args: string[]) =>
  (await runChecked(REPMGR_BIN, ['-f', conf, ...args], { user: PG_USER, timeoutMs: 120_000 })).stdout;

/** Starts primary (node 1, "pg1") and standby (node 2, "pg2") and waits until the standby streams. */
export async function startRepmgrCluster(opts: BaseServerOptions = {}): Promise<RepmgrCluster> {
  requireCommand(REPMGR_BIN, 'postgresql-15-repmgr');
  const primary = await startPostgres({ startTimeoutMs: opts.startTimeoutMs, conf: REPLICATION_CONF });
  let standby: PostgresServer | undefined;
  try {
    await primary.psql(`CREATE ROLE ${REPMGR_USER} LOGIN REPLICATION PASSWORD 'repl-pw'`);
    await primary.psql(`CREATE ROLE ${REPMGR_ADMIN} LOGIN SUPERUSER PASSWORD 'admin-pw'`);
    await primary.psql(`CREATE DATABASE ${REPMGR_DATABASE} OWNER ${REPMGR_USER}`);
    const primaryConf = await writeRepmgrConf(primary.baseDir, repmgrConf({ nodeId: 1, nodeName: 'pg1', ...primary }));
    const primaryRepmgr = runRepmgr(primaryConf);
    await primaryRepmgr(['primary', 'register', `--superuser=${REPMGR_ADMIN}`]);

    const pgbouncerDir = join(primary.baseDir, 'etc', 'pgbouncer');
    await mkdir(pgbouncerDir, { recursive: true });
    await writeFile(
      join(pgbouncerDir, 'pgbouncer.ini'),
      `[databases]\npostgres = host=127.0.0.1 port=${primary.port} dbname=postgres\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = 6432\nauth_type = trust\nauth_file = ${pgbouncerDir}/userlist.txt\n`,
    );
    await writeFile(join(pgbouncerDir, 'userlist.txt'), '"postgres" "*"\n', { mode: 0o600 });
    await chownTree(pgbouncerDir, PG_USER);

    const { baseDir, ownedHere } = await prepareBaseDir('pg-standby', {}, PG_USER);
    const dataDir = join(baseDir, 'data');
    const port = await freePort();
    const standbyConf = await writeRepmgrConf(baseDir, repmgrConf({ nodeId: 2, nodeName: 'pg2', port, baseDir, dataDir, socketDir: join(baseDir, 'sock') }));
    const standbyRepmgr = runRepmgr(standbyConf);
    await standbyRepmgr(['-h', LOOPBACK, '-p', String(primary.port), '-U', REPMGR_ADMIN, '-d', REPMGR_DATABASE, 'standby', 'clone', '--fast-checkpoint']);
    standby = await launchPostgres(baseDir, ownedHere, dataDir, { ...opts, port });
    await standbyRepmgr(['standby', 'register']);

    const cluster: RepmgrCluster = {
      primary: { ...primary, nodeId: 1, nodeName: 'pg1', repmgrConf: primaryConf, repmgr: primaryRepmgr },
      standby: { ...standby, nodeId: 2, nodeName: 'pg2', repmgrConf: standbyConf, repmgr: standbyRepmgr },
      pgbouncerDir,
      healthy: async () => {
        const shown = await cluster.primary.repmgr(['cluster', 'show', '--csv']).catch(() => '');
        // --csv: node id, connection status (0: running), recovery type
        const rows = shown
          .trim()
          .split('\n')
          .map((l) => l.split(','));
        return rows.length === 2 && rows.every((r) => r[1] === '0');
      },
      failover: async () => {
        const { primary: old, standby: promoted } = cluster;
        await old.repmgr(['node', 'service', '--action=stop', '--checkpoint']);
        await promoted.repmgr(['standby', 'promote']);
        await old.repmgr([
          '-h',
          LOOPBACK,
          '-p',
          String(promoted.port),
          '-U',
          REPMGR_ADMIN,
          '-d',
          REPMGR_DATABASE,
          'standby',
          'clone',
          '--force',
          '--fast-checkpoint',
        ]);
        await old.repmgr(['node', 'service', '--action=start']);
        await old.repmgr(['standby', 'register', '--force']);
        [cluster.primary, cluster.standby] = [promoted, old];
        await waitUntil(
          'old primary streams from the promoted one',
          async () => (await promoted.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")) === '1',
          { timeoutMs: 60_000, logFile: old.logFile },
        );
      },
      stop: async () => {
        await standby?.stop();
        await primary.stop();
      },
    };
    await waitUntil('standby streaming', async () => (await primary.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")) === '1', {
      timeoutMs: 60_000,
      logFile: standby.logFile,
    });
    return cluster;
  } catch (e) {
    await standby?.stop();
    await primary.stop();
    throw e;
  }
}
