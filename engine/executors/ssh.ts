/**
 * Runs commands on a remote host over SSH (ssh2): one connection per host, one channel per
 * command, stdin/stdout streamed with backpressure. Implements the Executor contract.
 */
import { homedir, userInfo } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Client, ClientChannel } from 'ssh2';
import { LsError } from '../errors.js';
import type { Host } from '../inventory/types.js';
import type { CommandResult, Executor, RunOptions } from './types.js';
import { HeadBuffer, TailBuffer, STDERR_TAIL_LIMIT, STDOUT_CAPTURE_LIMIT } from './output.js';
import { ConnectFailure, forward, openClient, type ConnectSettings, type Endpoint } from './ssh/connect.js';
import { parseSshArgs, type JumpHost } from './ssh/ssh-args.js';
import { buildInvocation } from './invocation.js';
import { pipeToSink } from './sink-pipe.js';
import { explainSudoFailure } from './become.js';
import { startKillSequence } from './kill-sequence.js';

export interface SshExecutorOptions {
  /** Default 10 s, or ConnectTimeout from sshArgs. */
  connectTimeoutMs?: number;
  /** Passphrase of the private key (a resolved secret). */
  passphrase?: string;
  /** SSH password (ansible_password); the factory takes it from host vars. */
  password?: string;
  /** ssh-agent socket; default SSH_AUTH_SOCK. Pass '' to not use an agent. */
  agent?: string;
  /** Extra known_hosts files, checked with ~/.ssh/known_hosts and UserKnownHostsFile from sshArgs. */
  knownHostsFiles?: string[];
  /** The only known_hosts file (--known-hosts): replaces ~/.ssh/known_hosts and UserKnownHostsFile, and is checked whatever ansible.cfg or the inventory say; trust on first use records there. */
  knownHostsFile?: string;
  /** The private key for the host and its jump hosts (--ssh-key), in place of the inventory's. */
  privateKeyFile?: string;
  /** Record unknown host keys (in the first user known_hosts file) instead of refusing them. */
  trustOnFirstUse?: boolean;
  /** false (ansible.cfg host_key_checking / ANSIBLE_HOST_KEY_CHECKING) disables checking, with a warning. */
  hostKeyChecking?: boolean;
  /** Concurrent channels on the one connection; OpenSSH's MaxSessions default is 10. */
  maxSessions?: number;
  /** Called once per host for warnings (e.g. host key checking disabled). */
  onWarning?: (message: string) => void;
  /** ssh2's protocol trace (negotiated algorithms, ...), for troubleshooting. */
  debug?: (line: string) => void;
  /** Home directory for ~/.ssh (default: the current user's). */
  homeDir?: string;
}

interface Connection {
  client: Client;
  /** Jump host clients, closed with the target connection. */
  jumps: Client[];
  /** Why the connection dropped after it was ready (e.g. keepalives unanswered), for the failed command's cause. */
  lost?: string;
}

export class SshExecutor implements Executor {
  readonly hostName: string;
  /** Warnings raised so far (each once), also passed to options.onWarning. */
  readonly warnings: string[] = [];
  private connection?: Promise<Connection>;
  private readonly limit: LimitFunction;
  private readonly target: Endpoint;
  private readonly jumps: Endpoint[];
  private readonly settings: ConnectSettings;

  constructor(
    host: Pick<Host, 'name' | 'connection'>,
    private readonly options: SshExecutorOptions = {},
  ) {
    this.hostName = host.name;
    this.limit = pLimit(options.maxSessions ?? 10);
    const conn = host.connection;
    const args = parseSshArgs(conn.sshArgs);
    const home = options.homeDir ?? homedir();
    const user = conn.user ?? userInfo().username;
    const keyFile = options.privateKeyFile ?? conn.privateKeyFile ?? args.identityFile ?? defaultIdentity(home, options);
    this.target = { host: conn.address, port: conn.port, user, privateKeyFile: keyFile };
    const proxyCommand = args.options.get('proxycommand');
    if (proxyCommand && args.jumps.length === 0 && proxyCommand.toLowerCase() !== 'none') {
      throw new LsError('ECONNECT', {
        host: host.name,
        message: `unsupported ProxyCommand '${proxyCommand}' (only 'ssh -W %h:%p [user@]bastion' and ProxyJump are supported)`,
      });
    }
    // A jump host without a user logs in as the target's user (the usual bastion setup).
    const jumpKey = (j: JumpHost) => options.privateKeyFile ?? j.privateKeyFile ?? keyFile;
    this.jumps = args.jumps.map((j: JumpHost) => ({ host: j.host, port: j.port, user: j.user ?? user, privateKeyFile: jumpKey(j) }));
    // A known_hosts file given on the command line is the operator's whole trust list (a container
    // has no ~/.ssh, and the inventory's UserKnownHostsFile names a path on the Ansible machine).
    const userKnownHosts = options.knownHostsFile
      ? [options.knownHostsFile]
      : (args.options.get('userknownhostsfile') ?? '')
          .split(/\s+/)
          .filter((f) => f && f !== '/dev/null')
          .map((f) => f.replace(/^~(?=\/)/, home));
    const homeKnownHosts = join(home, '.ssh', 'known_hosts');
    const knownHostsFiles = [...userKnownHosts, ...(options.knownHostsFile ? [] : [homeKnownHosts]), ...(options.knownHostsFiles ?? [])];
    const strict = args.options.get('stricthostkeychecking')?.toLowerCase();
    // A known_hosts given on the command line is the operator's own word on which hosts to trust:
    // the build dir's ansible.cfg (LambdaStack's says host_key_checking = False) or the inventory's
    // StrictHostKeyChecking=no do not turn it off.
    const checking = options.knownHostsFile !== undefined || (options.hostKeyChecking !== false && strict !== 'no' && strict !== 'off');
    const interval = Number(args.options.get('serveraliveinterval') ?? 15);
    const connectTimeout = args.options.get('connecttimeout');
    this.settings = {
      passphrase: options.passphrase,
      password: options.password,
      agent: options.agent ?? process.env.SSH_AUTH_SOCK ?? undefined,
      connectTimeoutMs: options.connectTimeoutMs ?? (connectTimeout ? Number(connectTimeout) * 1000 : 10_000),
      keepaliveIntervalMs: interval > 0 ? interval * 1000 : 0,
      keepaliveCountMax: Number(args.options.get('serveralivecountmax') ?? 3),
      hostKeyChecking: checking,
      debug: options.debug,
      knownHostsFiles,
      // accept-new is OpenSSH's spelling of trust on first use.
      trustOnFirstUseFile: options.trustOnFirstUse || strict === 'accept-new' ? (userKnownHosts[0] ?? homeKnownHosts) : undefined,
      onHostKeyUnchecked: (endpoint) => this.warn(`host key checking is disabled for ${endpoint.host}:${endpoint.port}; the connection could be intercepted`),
    };
  }

  async run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    const connection = await this.ensureConnection();
    return this.limit(() => this.exec(connection, command, options, started));
  }

  async close(): Promise<void> {
    const pending = this.connection;
    this.connection = undefined;
    if (!pending) return;
    try {
      const { client, jumps } = await pending;
      for (const c of [client, ...jumps.reverse()]) c.end();
    } catch {
      /* never connected */
    }
  }

  private warn(message: string): void {
    if (this.warnings.includes(message)) return;
    this.warnings.push(message);
    this.options.onWarning?.(message);
  }

  /** Connect now (fail fast with ECONNECT) instead of on the first command. */
  async connect(): Promise<void> {
    await this.ensureConnection();
  }

  /** The one connection, opened on first use and reopened after it drops. */
  private ensureConnection(): Promise<Connection> {
    if (!this.connection) {
      const attempt = this.open();
      this.connection = attempt;
      attempt.then(
        ({ client }) => client.once('close', () => this.connection === attempt && (this.connection = undefined)),
        () => this.connection === attempt && (this.connection = undefined),
      );
    }
    return this.connection;
  }

  private async open(): Promise<Connection> {
    const jumps: Client[] = [];
    try {
      let sock;
      let previous: Endpoint | undefined;
      for (const jump of this.jumps) {
        if (previous) sock = await forward(jumps.at(-1)!, jump.host, jump.port, `${previous.host}:${previous.port}`);
        jumps.push(await this.openAs(jump, sock, 'jump host '));
        previous = jump;
      }
      if (previous) sock = await forward(jumps.at(-1)!, this.target.host, this.target.port, `${previous.host}:${previous.port}`);
      const client = await this.openAs(this.target, sock, '');
      const connection: Connection = { client, jumps };
      client.on('error', (e: Error & { level?: string }) => (connection.lost ??= this.describeLoss(e)));
      return connection;
    } catch (e) {
      for (const c of jumps) c.end();
      throw e;
    }
  }

  private async openAs(endpoint: Endpoint, sock: Awaited<ReturnType<typeof forward>> | undefined, role: string): Promise<Client> {
    try {
      return await openClient(endpoint, this.settings, sock);
    } catch (e) {
      if (!(e instanceof ConnectFailure)) throw e;
      throw new LsError('ECONNECT', { host: this.hostName, message: role + e.message }, { cause: e });
    }
  }

  /** ssh2 reports unanswered keepalives as 'Keepalive timeout'; say what that means for this host. */
  private describeLoss(e: Error & { level?: string }): string {
    if (e.level !== 'client-timeout') return e.message;
    const { keepaliveIntervalMs: interval, keepaliveCountMax: count } = this.settings;
    return `no answer from ${this.target.host}:${this.target.port} to ${count} keepalives (ServerAliveInterval ${interval / 1000} s, ServerAliveCountMax ${count}): network cut or host down?`;
  }

  private exec(connection: Connection, command: string, options: RunOptions, started: number): Promise<CommandResult> {
    const { client } = connection;
    const base = { command, host: this.hostName };
    const failedResult = (cause: Error): CommandResult => ({
      ...base,
      exitCode: undefined,
      stdout: '',
      stderr: '',
      durationMs: Date.now() - started,
      timedOut: false,
      failed: true,
      cause,
    });
    if (options.signal?.aborted) return Promise.resolve(failedResult(new Error('aborted before it started')));
    let invocation: ReturnType<typeof buildInvocation>;
    try {
      invocation = buildInvocation(command, options);
    } catch (e) {
      return Promise.resolve(failedResult(e as Error));
    }
    return new Promise<CommandResult>((resolve) => {
      openChannel(client, invocation.commandLine).then(
        ({ channel, exit }) => {
          const stdout = new HeadBuffer(STDOUT_CAPTURE_LIMIT);
          const stderr = new TailBuffer(STDERR_TAIL_LIMIT);
          let exitCode: number | undefined;
          let signal: string | undefined;
          const toSink = options.stdout ? pipeToSink(channel, options.stdout, options.countStdout) : undefined;
          if (!toSink) channel.on('data', (chunk: Buffer) => stdout.push(chunk));
          channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
          // 'close' follows stdout's end, which only means the last chunk was handed to the sink:
          // the result waits until the sink took all of it, and stderr ended too.
          // It settles with the sink's error, if any (a rejection here would go unhandled until 'close').
          const outputDone = Promise.all([toSink?.delivered, finished(channel.stderr).catch(() => undefined)]).then(
            () => undefined,
            (e: Error) => e,
          );
          let confirmTimer: NodeJS.Timeout | undefined;
          // sshd signals the command's process group as the login user.
          const stopping = startKillSequence(
            options,
            (name) => {
              sendSignal(channel, name.slice('SIG'.length));
              if (name !== 'SIGKILL') return;
              channel.close();
              // sshd confirms the close only once the command has exited: do not wait forever.
              confirmTimer = setTimeout(finish, KILL_CONFIRM_WAIT_MS);
            },
            // Its output is discarded now: a slow sink must not hold up the killed command.
            { onStop: () => toSink?.detach() },
          );
          let done = false;
          let sinkError: Error | undefined;
          const finish = () => {
            if (done) return;
            done = true;
            if (exit.code !== undefined && exit.code !== null) exitCode = exit.code;
            else if (exit.signal) signal = exit.signal.startsWith('SIG') ? exit.signal : `SIG${exit.signal}`;
            stopping.exited();
            clearTimeout(confirmTimer);
            const { timedOut, aborted } = stopping;
            if ((timedOut || aborted) && exitCode === undefined && !signal) signal = stopping.sent;
            const stderrText = stderr.toString();
            const result: CommandResult = {
              ...base,
              exitCode,
              signal,
              stdout: options.stdout ? '' : stdout.toString(),
              stderr: stderrText,
              durationMs: Date.now() - started,
              timedOut,
              failed: timedOut || aborted || exitCode !== 0 || sinkError !== undefined,
            };
            const refusal = exitCode === 1 ? explainSudoFailure(stderrText, this.hostName, options.become) : undefined;
            if (refusal) {
              result.cause = new Error(`${refusal} (login user ${this.target.user})`);
            } else if (aborted) result.cause = new Error('aborted');
            else if (timedOut) result.cause = new Error(`timed out after ${options.timeoutMs} ms`);
            else if (exitCode === undefined && !signal)
              result.cause = new Error(
                `the SSH channel to ${this.hostName} closed without an exit status (${connection.lost ? `connection lost: ${connection.lost}` : 'connection lost?'})`,
              );
            else if (sinkError) result.cause = sinkError;
            resolve(result);
          };
          // A killed command's output is discarded: no waiting for it (the sink was detached).
          channel.on('close', () => {
            if (stopping.timedOut || stopping.aborted) return finish();
            void outputDone.then((e) => ((sinkError = e), finish())); // never rejects: it settles with the sink's error
          });
          writeStdin(channel, invocation.prologue, options.stdin);
        },
        (err: Error) => resolve(failedResult(new Error(`cannot open an SSH channel on ${this.hostName}: ${err.message}`))),
      );
    });
  }
}

/** How the remote command ended, as its exit-status / exit-signal request said. */
interface ChannelExit {
  code?: number | null;
  signal?: string;
}

/**
 * Opens an exec channel. sshd frees a session slot (MaxSessions) a moment after the channel
 * closes, so a refused open right after another command finished is retried briefly.
 * The exit listener is attached inside ssh2's callback: a fast command's exit-status can
 * arrive in the same packet batch as the open confirmation, and ssh2 emits 'exit' once,
 * synchronously, before a promise continuation could listen (stdout is buffered; exit is not).
 */
async function openChannel(client: Client, commandLine: string): Promise<{ channel: ClientChannel; exit: ChannelExit }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) =>
        client.exec(commandLine, (err, channel) => {
          if (err) return reject(err);
          const exit: ChannelExit = {};
          channel.once('exit', (code: number | null, signalName?: string) => Object.assign(exit, { code, signal: signalName }));
          resolve({ channel, exit });
        }),
      );
    } catch (e) {
      if (attempt >= 20 || !/open failed|administratively prohibited/i.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
    }
  }
}

/** After KILL, how long to wait for sshd to confirm the command ended before giving up on it. */
const KILL_CONFIRM_WAIT_MS = 2000;

/**
 * ssh2's Channel.signal() only sends while our side of the channel is writable (state 'open'), not
 * after stdin was ended, which is exactly when a timeout needs it; send the request directly.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  const ch = channel as unknown as { outgoing: { id: number; state: string }; _client: { _protocol: { signal(id: number, sig: string): void } } };
  try {
    if (ch.outgoing.state === 'open' || ch.outgoing.state === 'eof') ch._client._protocol.signal(ch.outgoing.id, name);
  } catch {
    /* connection already gone */
  }
}

/** Prologue (secrets) first, then the caller's stdin, then EOF; backpressure via pipe. */
function writeStdin(channel: ClientChannel, prologue: Buffer, stdin: RunOptions['stdin']): void {
  // A command that exits without reading stdin closes the channel under us: not an error.
  channel.on('error', () => {});
  if (prologue.length > 0) channel.write(prologue);
  if (stdin === undefined) channel.end();
  else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
  else {
    // A stdin that fails (a restore read refusing a changed entry) ends the input, as in local.ts: the command must not wait forever.
    (stdin as Readable).on('error', () => channel.end());
    (stdin as Readable).pipe(channel);
  }
}

/** OpenSSH's default identities, when the inventory names none and there is no agent. */
function defaultIdentity(home: string, options: SshExecutorOptions): string | undefined {
  if ((options.agent ?? process.env.SSH_AUTH_SOCK) || options.password !== undefined) return undefined;
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(home, '.ssh', f)).find((f) => existsSync(f));
}
