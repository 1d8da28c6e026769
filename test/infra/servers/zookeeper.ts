/**
 * A real standalone ZooKeeper 3.8 (Debian zookeeper), started with java directly
 * because zkServer.sh hard-codes /etc/zookeeper/conf. Also the home of the Kafka
 * stand-in's znodes. `fourLetter('ruok')` speaks the 4lw protocol over a socket;
 * `zkCli(args)` runs the real CLI.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOOPBACK, type BaseServerOptions, type RunningServer, freePort, prepareBaseDir, makeDirs, launchServer, runChecked, socketRequest } from './common.js';

const ZK_JAR = '/usr/share/java/zookeeper.jar';

/**
 * Debian's zookeeper.jar comes without a logging backend (SLF4J falls back to no output), so a
 * server that will not start or join its ensemble leaves an empty log. Where maven's simple SLF4J
 * backend is installed (it is on these machines), the server logs through it; java skips a jar
 * that is not there.
 */
const SIMPLE_LOGGER = '/usr/share/java/maven3-slf4j-provider.jar:/usr/share/java/maven-shared-utils.jar';

/** The classpath of a ZooKeeper server whose zoo.cfg is in `configDir`. */
export function zkServerClasspath(configDir: string): string {
  return `${configDir}:${ZK_JAR}:${SIMPLE_LOGGER}`;
}
const MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

export interface ZooKeeperServer extends RunningServer {
  port: number;
  /** 127.0.0.1:<port> — a ZooKeeper connect string. */
  connectString: string;
  /** Where the transaction logs go (`<dir>/version-2`): dataLogDir, or the data dir when not separate. */
  dataLogDir: string;
  /** zoo.cfg (configDir holds it with log4j/logback defaults from the package). */
  configFile: string;
  /** Sends a four-letter word (ruok, srvr, stat, mntr) and returns the answer. */
  fourLetter(word: string): Promise<string>;
  /** Runs ZooKeeperMain (zkCli) with one command, e.g. ['create', '/a', 'x']; returns stdout. */
  zkCli(args: string[]): Promise<string>;
  /** Runs several zkCli command lines in one JVM (fed on stdin; ~0.4 s instead of ~1 s each). */
  zkCliBatch(lines: string[]): Promise<string>;
  /** `<baseDir>/bin/zkCli.sh`: the real CLI as a script (`zkCli.sh -server HOST:PORT cmd…`) for a recipe's PATH. */
  zkCliScript: string;
}

export interface ZooKeeperOptions extends BaseServerOptions {
  /** Transaction logs in their own directory (zoo.cfg dataLogDir), as LambdaStack configures it. */
  separateDataLogDir?: boolean;
  /** The client port (default: a free one). */
  port?: number;
}

export async function startZooKeeper(opts: ZooKeeperOptions = {}): Promise<ZooKeeperServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('zk', opts);
  const dataDir = join(baseDir, 'data');
  const dataLogDir = opts.separateDataLogDir ? join(baseDir, 'txnlog') : dataDir;
  const configDir = join(baseDir, 'conf');
  const logFile = join(baseDir, 'zookeeper.log');
  await makeDirs([dataDir, dataLogDir, configDir]);
  const port = opts.port ?? (await freePort());
  const configFile = join(configDir, 'zoo.cfg');
  await writeFile(
    configFile,
    [
      'tickTime=2000',
      `dataDir=${dataDir}`,
      ...(dataLogDir !== dataDir ? [`dataLogDir=${dataLogDir}`] : []),
      `clientPortAddress=${LOOPBACK}`,
      `clientPort=${port}`,
      'admin.enableServer=false',
      '4lw.commands.whitelist=srvr,ruok,stat,mntr',
      '',
    ].join('\n'),
  );
  const fourLetter = (word: string) => fourLetterWord(port, word);
  const { pid, stop } = await launchServer({
    what: 'zookeeper',
    command: 'java',
    baseDir,
    ownedHere,
    logFile,
    args: ['-Xmx256m', '-cp', zkServerClasspath(configDir), MAIN, configFile],
    // `ruok` answers before the server serves requests; `srvr` reports a Mode only once it does.
    ready: async () => /^Mode: /m.test(await fourLetter('srvr')),
    timeoutMs: opts.startTimeoutMs ?? 120_000,
  });
  const connectString = `${LOOPBACK}:${port}`;
  const zkCliScript = await writeZkCliScript(join(baseDir, 'bin'), configDir);
  const zkCli = async (args: string[]) => withoutWatcherNotices((await runChecked(zkCliScript, ['-server', connectString, ...args])).stdout);
  const zkCliBatch = async (lines: string[]) =>
    withoutWatcherNotices((await runChecked(zkCliScript, ['-server', connectString], { input: lines.join('\n') + '\nquit\n' })).stdout);
  return { pid, baseDir, dataDir, dataLogDir, configDir, configFile, logFile, port, connectString, fourLetter, zkCli, zkCliBatch, zkCliScript, stop };
}

/**
 * zkCli prints its session watcher's notices ("WATCHER::", "WatchedEvent state:SyncConnected …")
 * from another thread, so they land before or after a command's answer depending on timing;
 * dropping them keeps "the last line is the znode's data" true.
 */
export function withoutWatcherNotices(stdout: string): string {
  return stdout
    .split('\n')
    .filter((line) => !/^(WATCHER::|WatchedEvent state:)/.test(line.trim()))
    .join('\n');
}

/** Writes `dir/zkCli.sh`, running the packaged ZooKeeperMain (the Debian package ships no zkCli on PATH). */
export async function writeZkCliScript(dir: string, configDir: string): Promise<string> {
  await makeDirs([dir]);
  const script = join(dir, 'zkCli.sh');
  await writeFile(script, `#!/bin/sh\nexec java -cp '${configDir}:${ZK_JAR}' org.apache.zookeeper.ZooKeeperMain "$@"\n`, { mode: 0o755 });
  return script;
}

/** ZooKeeper's four-letter-word protocol: send the word, read until the server closes. */
export function fourLetterWord(port: number, word: string, host = LOOPBACK): Promise<string> {
  return socketRequest({ port, host }, word);
}
