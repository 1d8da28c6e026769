import { ExitCode, isLsError } from '../errors.js';
import { errorEvent, printJsonEvents } from '../report/json-lines.js';
import type { Redactor } from '../secrets/types.js';

export interface WatchOptions {
  /** Files and directories whose saves trigger a re-run. */
  paths: string[];
  /** One pass (validate, plan); its exit code is shown, never acted on. */
  run: () => Promise<number>;
  /** No screen clearing or hints (machine output). */
  json?: boolean;
  debounceMs?: number;
  /** Masks what a failed pass printed (the secrets its plan resolved). */
  redactor: Redactor;
}

/**
 * Authoring watch mode shared by `validate --watch` and `plan --watch`: run once, then again on
 * every save (debounced), clearing the screen on a TTY. A broken file is reported, never fatal;
 * Ctrl-C / SIGTERM / SIGHUP end it with exit code 0.
 */
export async function watchAndRerun(options: WatchOptions): Promise<number> {
  const pass = async () => {
    if (!options.json && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[3J\x1b[H');
    try {
      await options.run();
    } catch (e) {
      // A machine reading --json gets the pass's failure as an event (docs/json.md); the watch goes on.
      if (options.json) printJsonEvents([errorEvent(e, ExitCode.failed)], options.redactor);
      process.stderr.write(
        isLsError(e)
          ? `lsbackup: ${options.redactor.redact(e.message)}\n`
          : `lsbackup: unexpected error: ${options.redactor.redact((e as Error).stack ?? String(e))}\n`,
      );
    }
    if (!options.json) process.stderr.write(`\nwatching ${options.paths.length} path(s) for changes (Ctrl-C to stop)\n`);
  };
  // chokidar loads only in watch mode, not with every `plan` or `validate`.
  const { watch } = await import('chokidar');
  const watcher = watch(options.paths, { ignoreInitial: true });
  await new Promise<void>((resolve) => watcher.once('ready', resolve));
  await pass();
  let timer: NodeJS.Timeout | undefined;
  // A save during a pass queues exactly one more pass after it.
  let running: Promise<void> = Promise.resolve();
  watcher.on('all', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(pass);
    }, options.debounceMs ?? 200);
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    process.once('SIGHUP', () => resolve()); // the terminal went away: end like Ctrl-C
  });
  clearTimeout(timer);
  await watcher.close();
  return 0;
}
