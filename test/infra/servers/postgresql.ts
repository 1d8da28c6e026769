/**
 * A real PostgreSQL 15 server (Debian's /usr/lib/postgresql/15/bin), run as `postgres`,
 * trust auth, TCP on 127.0.0.1 plus a Unix socket in its own dir. Optionally a
 * primary + streaming replica pair, so a recipe can find the primary with
 * `pg_is_in_recovery()`.
 */
import { writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LOOPBACK,
  type BaseServerOptions,
  type RunningServer,
  freePort,
  prepareBaseDir,
  makeDirs,
  makeStop,
  readPidFile,
  runChecked,
  waitUntil,
  killAtExit,
  pathExists,
  chownTree,
} from './common.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres';

export interface PostgresServer extends RunningServer {
  port: number;
  host: string;
  socketDir: string;
  /** postgresql.conf, pg_hba.conf live here (the data dir, as initdb lays it out). */
  configDir: string;
  /** libpq environment for psql/pg_dumpall: PGHOST, PGPORT, PGUSER. */
  env: Record<string, string>;
  url: string;
  /** Runs SQL with psql as postgres (-At: unaligned, tuples only); returns stdout. */
  psql(sql: string, database?: string): Promise<string>;
}

export interface PostgresOptions extends BaseServerOptions {
  /** Extra postgresql.conf lines. */
  conf?: string[];
}

/** Starts one PostgreSQL server; initdb runs unless the data dir already holds a cluster. */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('pg', opts, PG_USER);
  const dataDir = join(baseDir, 'data');
  if (!(await pathExists(join(dataDir, 'PG_VERSION')))) {
    await makeDirs([dataDir], PG_USER);
    await runChecked(join(PG_BIN, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', PG_USER, '--no-sync'], { user: PG_USER });
    if (opts.conf?.length) await appendFile(join(dataDir, 'postgresql.conf'), '\n' + opts.conf.join('\n') + '\n');
  }
  return launchPostgres(baseDir, ownedHere, dataDir, opts);
}

export interface PostgresPair {
  primary: PostgresServer;
  replica: PostgresServer;
  /** Stops the replica, then the primary. */
  stop(): Promise<void>;
}

/** A primary and a streaming replica made with pg_basebackup -R (standby.signal). */
export async function startPostgresPair(opts: BaseServerOptions = {}): Promise<PostgresPair> {
  const primary = await startPostgres({
    startTimeoutMs: opts.startTimeoutMs,
    conf: ['wal_level = replica', 'max_wal_senders = 5', 'hot_standby = on'],
  });
  try {
    await appendFile(join(primary.dataDir, 'pg_hba.conf'), `host replication all ${LOOPBACK}/32 trust\n`);
    await primary.psql('SELECT pg_reload_conf()');
    const { baseDir, ownedHere } = await prepareBaseDir('pg-replica', {}, PG_USER);
    const dataDir = join(baseDir, 'data');
    await runChecked(
      join(PG_BIN, 'pg_basebackup'),
      ['-h', LOOPBACK, '-p', String(primary.port), '-U', PG_USER, '-D', dataDir, '-R', '-X', 'stream', '--no-sync'],
      { user: PG_USER },
    );
    const replica = await launchPostgres(baseDir, ownedHere, dataDir, opts);
    // Streaming is up once the primary sees the replica's WAL sender.
    await waitUntil('replica streaming', async () => (await primary.psql('SELECT count(*) FROM pg_stat_replication')) === '1', {
      timeoutMs: 120_000,
      logFile: replica.logFile,
    });
    return { primary, replica, stop: async () => (await replica.stop(), await primary.stop()) };
  } catch (e) {
    await primary.stop();
    throw e;
  }
}

/** The postgres options every server here runs with (also what a repmgr service_start_command passes). */
export function serverOptions(port: number, socketDir: string): string {
  return `-c listen_addresses=${LOOPBACK} -p ${port} -k ${socketDir} -c fsync=off`;
}

/** Starts the server on an existing data dir (on `opts.port`, else a free port). */
export async function launchPostgres(
  baseDir: string,
  ownedHere: boolean,
  dataDir: string,
  opts: BaseServerOptions & { port?: number },
): Promise<PostgresServer> {
  const socketDir = join(baseDir, 'sock');
  const logFile = join(baseDir, 'postgres.log');
  await makeDirs([socketDir], PG_USER);
  await writeFile(logFile, '');
  await chownTree(logFile, PG_USER);
  const port = opts.port ?? (await freePort());
  // pg_ctl -w waits until the server accepts connections; the postmaster runs in its own session.
  await runChecked(
    join(PG_BIN, 'pg_ctl'),
    ['-D', dataDir, '-l', logFile, '-w', '-t', String(Math.ceil((opts.startTimeoutMs ?? 120_000) / 1000)), '-o', serverOptions(port, socketDir), 'start'],
    { user: PG_USER },
  );
  const pid = await readPidFile(join(dataDir, 'postmaster.pid'));
  killAtExit(pid);
  const env = { PGHOST: LOOPBACK, PGPORT: String(port), PGUSER: PG_USER };
  const psql = async (sql: string, database = 'postgres') =>
    (
      await runChecked(join(PG_BIN, 'psql'), ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', sql], {
        env: { ...process.env, ...env },
      })
    ).stdout.trim();
  const stop = makeStop(pid, baseDir, ownedHere, {
    signal: 'SIGINT', // postgres "fast" shutdown
    before: async () => {
      // By data dir, not pid: a recipe may have restarted the server (repmgr re-clones a standby).
      if (await pathExists(join(dataDir, 'postmaster.pid')))
        await runChecked(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], { user: PG_USER });
    },
  });
  return {
    pid,
    port,
    host: LOOPBACK,
    baseDir,
    dataDir,
    configDir: dataDir,
    socketDir,
    logFile,
    env,
    url: `postgresql://${PG_USER}@${LOOPBACK}:${port}/postgres`,
    psql,
    stop,
  };
}
