/**
 * The one way a running command is stopped, for every executor (modelled on execa's
 * lib/terminate/): when its timeout passes or the run's signal aborts, it gets TERM, so it can
 * stop on its own (and sudo relays TERM to a become command, which our KILL could not reach);
 * if it is still running TERM_GRACE_MS later, it gets KILL.
 */

/** How long a stopped command has between TERM and KILL to end on its own. */
export const TERM_GRACE_MS = 2000;

export type StopSignal = 'SIGTERM' | 'SIGKILL';

export interface KillSequence {
  /** The command's timeout passed. */
  readonly timedOut: boolean;
  /** The run's signal aborted (Ctrl-C, run cancelled). */
  readonly aborted: boolean;
  /** The last signal sent; undefined while the command was not stopped. */
  readonly sent: StopSignal | undefined;
  /** The command has ended: nothing more is sent, and the timers and the abort listener go. */
  exited(): void;
}

export interface KillSequenceOptions {
  /** Called once, just before TERM (e.g. to stop waiting for the output of a command being killed). */
  onStop?: () => void;
  /** Between TERM and KILL; TERM_GRACE_MS unless a test needs it shorter. */
  graceMs?: number;
}

/**
 * Watches a command's timeout and abort signal; `send` delivers a signal to the command (its
 * process group, or its SSH channel). Call exited() once the command has ended, however it ended.
 */
export function startKillSequence(
  limits: { timeoutMs?: number; signal?: AbortSignal },
  send: (signal: StopSignal) => void,
  options: KillSequenceOptions = {},
): KillSequence {
  let timedOut = false;
  let aborted = false;
  let sent: StopSignal | undefined;
  let over = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (over || sent) return;
    options.onStop?.();
    sent = 'SIGTERM';
    send('SIGTERM');
    killTimer = setTimeout(() => {
      if (over) return;
      sent = 'SIGKILL';
      send('SIGKILL');
    }, options.graceMs ?? TERM_GRACE_MS);
  };
  const timer =
    limits.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, limits.timeoutMs)
      : undefined;
  const onAbort = () => {
    aborted = true;
    stop();
  };
  if (limits.signal?.aborted) onAbort();
  else limits.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    get timedOut() {
      return timedOut;
    },
    get aborted() {
      return aborted;
    },
    get sent() {
      return sent;
    },
    exited() {
      over = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      limits.signal?.removeEventListener('abort', onAbort);
    },
  };
}
