import type { Readable, Writable } from 'node:stream';

/** How a command gains privileges (Ansible's become). */
export interface Become {
  /** Target user; Ansible's default is root. */
  user: string;
  /** Only sudo is supported (what LambdaStack uses). */
  method: 'sudo';
  /** sudo password (a resolved secret); undefined means passwordless sudo (`sudo -n`). */
  password?: string;
}

export interface RunOptions {
  /** Streamed to the command's stdin, then stdin is closed. Without it stdin is closed at once. */
  stdin?: Readable | Buffer | string;
  /**
   * When given, stdout is piped here and not captured (the result's stdout is '').
   * The executor does not end this stream. Without it, stdout is captured (up to 1 MiB).
   */
  stdout?: Writable;
  /** Told the size of each stdout chunk as it goes to `stdout` (live progress: a counter add, no copy). */
  countStdout?: (bytes: number) => void;
  /** Kill the command after this long; the result has timedOut: true. */
  timeoutMs?: number;
  become?: Become;
  /**
   * Extra environment for the command. Values may be secrets: executors must never put
   * them on a command line (visible in `ps`); the SSH executor sends them through stdin.
   */
  env?: Record<string, string>;
  /** Aborting kills the command (Ctrl-C, run cancelled). */
  signal?: AbortSignal;
}

/**
 * One result shape for every executor, success or failure (like execa's).
 * Executors never throw for a command that ran and failed; they throw only LsError
 * ECONNECT when the host cannot be reached at all.
 */
export interface CommandResult {
  /** The command as given (already rendered; secrets are redacted by the reporter, not here). */
  command: string;
  host: string;
  exitCode: number | undefined;
  signal?: string;
  stdout: string;
  /** Last 64 KiB of stderr. */
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** exitCode !== 0, killed, timed out or aborted. */
  failed: boolean;
  /** Why it failed when no exit code explains it (spawn error, channel error, abort). */
  cause?: Error;
}

/** Runs shell commands on one host. Local and SSH implement the same contract. */
export interface Executor {
  readonly hostName: string;
  /** `command` is a POSIX sh command line, run as `sh -c command` (as the become user when set). */
  run(command: string, options?: RunOptions): Promise<CommandResult>;
  /**
   * Open the connection now, so an unreachable host fails once, up front, with
   * LsError ECONNECT (a one-line cause). Executors without connections resolve at once.
   */
  connect(): Promise<void>;
  /** Release connections. Idempotent. */
  close(): Promise<void>;
}
