import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import type { CommandResult, Executor, RunOptions } from './types.js';
import { explainSudoFailure } from './become.js';
import { buildInvocation } from './invocation.js';
import { pipeToSink } from './sink-pipe.js';
import { directConsumer } from './direct-chunks.js';
import { openLocalStdout } from './local-stdout.js';
import { HeadBuffer, STDERR_TAIL_LIMIT, STDOUT_CAPTURE_LIMIT, TailBuffer } from './output.js';
import { startKillSequence } from './kill-sequence.js';

/** Runs commands on this machine (ansible_connection=local). */
export class LocalExecutor implements Executor {
  /** isSecret: a variable of lsbackup's environment holding such a value is not passed on (stepEnvironment). */
  constructor(
    readonly hostName: string,
    private readonly isSecret: (value: string) => boolean = () => false,
  ) {}

  async run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    const become = this.effectiveBecome(options);
    // The same invocation as on SSH hosts: env values and the sudo password go through stdin
    // (never argv, and they survive sudo's environment reset).
    let invocation: ReturnType<typeof buildInvocation>;
    try {
      invocation = buildInvocation(command, { become, env: options.env });
    } catch (e) {
      return { command, host: this.hostName, exitCode: undefined, stdout: '', stderr: '', durationMs: 0, timedOut: false, failed: true, cause: e as Error };
    }
    const stdout = new HeadBuffer(STDOUT_CAPTURE_LIMIT);
    const stderr = new TailBuffer(STDERR_TAIL_LIMIT);
    // A sink that takes chunks directly gets them from one reused buffer (local-stdout.ts).
    const consume = directConsumer(options.stdout);
    const direct = consume ? await openLocalStdout() : undefined;
    // detached: the command gets its own process group, so a timeout kills the whole
    // pipeline (`sh -c 'a | b'`), not just the shell while its children keep the pipes open.
    // node:child_process, not execa: nothing here needs more, and loading execa's ~100 modules
    // was ~10 % of a trivial run's start-up.
    let child: ChildProcess;
    try {
      child = spawn('sh', ['-c', invocation.commandLine], {
        detached: true,
        env: stepEnvironment(this.isSecret),
        stdio: ['pipe', direct ? direct.childFd : 'pipe', 'pipe'],
      });
    } catch (e) {
      direct?.dispose();
      throw e;
    }
    const ended = exitOf(child);
    direct?.childStarted();
    // Done once the sink took all of stdout, not merely once stdout ended (sink-pipe.ts).
    const toSink = direct
      ? direct.deliverTo(consume!, options.countStdout)
      : options.stdout
        ? pipeToSink(child.stdout!, options.stdout, options.countStdout)
        : undefined;
    let exited = false;
    // The whole process group, but not once the command has exited: its PID may then be
    // reused by an unrelated process group.
    const stopping = startKillSequence(
      options,
      (signal) => {
        try {
          if (child.pid !== undefined && !exited) process.kill(-child.pid, signal);
        } catch {
          /* already gone */
        }
      },
      // Its output is discarded now: a slow sink must not hold up the killed command.
      { onStop: () => toSink?.detach() },
    );

    child.stderr!.on('data', (c: Buffer) => stderr.push(c));
    const stdoutDone = toSink ? toSink.delivered : (child.stdout!.on('data', (c: Buffer) => stdout.push(c)), once(child.stdout!, 'end'));
    feedStdin(child.stdin!, invocation.prologue, options.stdin);

    let cause: Error | undefined;
    const result = await ended;
    exited = true;
    // A killed command's sink was detached (onStop): its output is not waited for.
    if (!toSink || !(stopping.timedOut || stopping.aborted)) await stdoutDone.catch((e: Error) => (cause ??= e));
    stopping.exited();
    const { timedOut, aborted } = stopping;

    if (result.exitCode === undefined && !timedOut && !aborted && result.signal === undefined) {
      cause ??= result.error ?? new Error('the command ended without an exit status');
    }
    const stderrText = stderr.toString();
    const sudoProblem = explainSudoFailure(stderrText, this.hostName, become);
    if (sudoProblem && result.exitCode !== 0) cause ??= new Error(sudoProblem);
    if (aborted) cause ??= new Error('aborted');
    return {
      command,
      host: this.hostName,
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: stdout.toString(),
      stderr: stderrText,
      durationMs: Date.now() - started,
      timedOut,
      failed: result.exitCode !== 0 || timedOut || aborted || cause !== undefined,
      cause,
    };
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {}

  /** Root asking to become root needs no sudo (a container or CI runner often has none). */
  private effectiveBecome(options: RunOptions) {
    const become = options.become;
    if (!become) return undefined;
    if (become.user === os.userInfo().username) return undefined;
    return become;
  }
}

/** How a child process ended: its exit code or signal, or why it could not run (spawn failed). */
function exitOf(child: ChildProcess): Promise<{ exitCode?: number; signal?: NodeJS.Signals; error?: Error }> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    child.once('error', (e) => (error = e));
    // 'close' (not 'exit'): stdio is closed too, so all its output was read. It also follows a
    // failed spawn, whose 'error' says why (its code is then a negative errno, not an exit status).
    child.once('close', (code, signal) => resolve(error ? { error } : { exitCode: code ?? undefined, signal: signal ?? undefined }));
  });
}

/** Writes the prologue (secrets) then the caller's input to stdin; a command that exits early (EPIPE) is not an error here. */
function feedStdin(stdin: NodeJS.WritableStream & { destroyed?: boolean }, prologue: Buffer, input: RunOptions['stdin']): void {
  stdin.on('error', () => {
    /* EPIPE: the command did not read all input; its exit code tells the story */
  });
  if (prologue.length > 0) stdin.write(prologue);
  if (input === undefined) {
    stdin.end();
  } else if (typeof input === 'string' || Buffer.isBuffer(input)) {
    stdin.end(input);
  } else {
    input.on('error', () => stdin.end());
    input.pipe(stdin);
  }
}

/**
 * lsbackup's environment without the variables that hold a secret the run resolved (a target's
 * key, a recipe secret from the environment source): a step gets the secrets it names through
 * the prologue (invocation.ts), not every one lsbackup was given, which a command could print
 * into the backup or hand to a process of another user (`runuser -p`, `su -m`).
 */
function stepEnvironment(isSecret: (value: string) => boolean): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([, value]) => value === undefined || !isSecret(value)));
}
