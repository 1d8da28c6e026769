import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { shellQuote } from '../template/index.js';
import type { Become, CommandResult, Executor } from './types.js';

/**
 * Reading and writing single files on a host, built on `Executor.run` so that local and SSH
 * hosts (and become) behave the same. Bulk data uses tar streams (collect, `files` restore
 * steps); these are for the odd single file.
 */

/** Streams a host file into `dest` (not ended). */
export function readHostFile(executor: Executor, path: string, dest: Writable, options: { become?: Become; timeoutMs?: number } = {}): Promise<CommandResult> {
  return executor.run(`exec cat -- ${shellQuote(path)}`, { ...options, stdout: dest });
}

/**
 * Writes `source` to a host file atomically: into a private temp file beside it first, and only
 * when all of the source arrived (a separate command, so a failed source can never race the
 * rename) chmod + rename over the destination. A failure leaves the old file as it was.
 */
export async function writeHostFile(
  executor: Executor,
  path: string,
  source: Readable | Buffer | string,
  options: { mode?: number; become?: Become; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const file = shellQuote(path);
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
  const tmp = shellQuote(`${dir}.lsbackup-tmp-${randomBytes(6).toString('hex')}-${path.slice(dir.length)}`);
  const run = { become: options.become, timeoutMs: options.timeoutMs };
  let sourceError: Error | undefined;
  const abort = new AbortController();
  if (typeof source !== 'string' && !Buffer.isBuffer(source)) {
    source.once('error', (e) => {
      sourceError = e;
      abort.abort(e);
    });
  }
  const written = await executor.run(`umask 077 && exec cat > ${tmp}`, { ...run, stdin: source, signal: abort.signal });
  if (written.failed || sourceError) {
    await executor.run(`rm -f -- ${tmp}`, run);
    return sourceError ? { ...written, failed: true, cause: written.cause ?? sourceError } : written;
  }
  const published = await executor.run(`chmod ${(options.mode ?? 0o600).toString(8)} ${tmp} && mv -f -- ${tmp} ${file}`, run);
  if (published.failed) await executor.run(`rm -f -- ${tmp}`, run);
  return published;
}
