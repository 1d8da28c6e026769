import { setMaxListeners } from 'node:events';
import { onProcessFault } from './process-guard.js';

/**
 * Ctrl-C / SIGTERM / SIGHUP abort the run: running commands are killed, post-steps still run,
 * the partial archive is removed. A second signal exits at once. (SIGHUP's default action would
 * kill the process mid-run: a closed terminal or ssh session must not leave services stopped.)
 * `stopping`: what the first signal starts, as the message says it.
 */
export function interruptSignal(stopping = 'stopping, running post-steps'): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  // Every running command listens on this one signal: 16+ hosts at once is normal, not a leak.
  setMaxListeners(0, controller.signal);
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      process.stderr.write(`\nlsbackup: second ${sig}: exiting now; post-steps may not have run\n`);
      process.exit(130);
    }
    process.stderr.write(`\nlsbackup: ${sig} received: ${stopping} (press Ctrl-C again to force)\n`);
    controller.abort(sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  // A bug's stray rejection stops the run like a signal does: post-steps still run.
  const offFault = onProcessFault((reason) => controller.abort(reason));
  return {
    signal: controller.signal,
    dispose: () => {
      for (const sig of signals) process.off(sig, onSignal);
      offFault();
    },
  };
}
