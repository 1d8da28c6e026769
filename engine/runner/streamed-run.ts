/**
 * Runs a step whose stdout streams into the archive (collect, snapshot `output:`). With the
 * `zstd` transport the host compresses the stream (remote-compress-command.ts) and a local
 * `zstd -d` restores exactly the bytes the command wrote before they reach `sink`, so the
 * archive is the same either way. Returns the one CommandResult shape; a transport failure
 * (zstd missing on either side, a stream that does not decompress) is its `cause`.
 */
import type { Writable } from 'node:stream';
import { startZstd, ZSTD_DECOMPRESS_ARGS } from '../archive/zstd.js';
import type { CommandResult, Executor, RunOptions } from '../executors/types.js';
import { NO_ZSTD_EXIT, NO_ZSTD_ON_HOST, remoteCompressCommand } from './remote-compress-command.js';
import { COMPRESS_HOST_VAR, type Transport } from './transport.js';
import { pipeToSink } from '../executors/sink-pipe.js';

/** `run.countStdout` is told the bytes the command wrote (decompressed), as they reach `sink`. */
export async function runStreamed(executor: Executor, command: string, run: RunOptions, sink: Writable, transport: Transport): Promise<CommandResult> {
  if (transport === 'plain') return executor.run(command, { ...run, stdout: sink });
  const host = executor.hostName;
  const zstd = startZstd([...ZSTD_DECOMPRESS_ARGS], { need: 'to decompress what hosts compressed (compress: remote)' });
  const notStarted = await zstd.started;
  if (notStarted) return notRun(command, host, notStarted);
  // Like the executors: the result waits until the sink took every decompressed byte.
  const toSink = pipeToSink(zstd.stdout!, sink, run.countStdout);

  // A stream that stops decompressing stops the host's command too: nothing reads it any more.
  const brokenStream = new AbortController();
  const stopOnBrokenStream = zstd.ended.then((problem) => problem && brokenStream.abort());
  const onRunAbort = () => brokenStream.abort();
  if (run.signal?.aborted) onRunAbort();
  run.signal?.addEventListener('abort', onRunAbort, { once: true });
  let ran: CommandResult;
  try {
    ran = await executor.run(remoteCompressCommand(command), { ...run, signal: brokenStream.signal, stdout: zstd.stdin, countStdout: undefined });
  } catch (e) {
    zstd.kill(); // the host went away (ECONNECT): no stream will come
    toSink.detach();
    throw e;
  } finally {
    run.signal?.removeEventListener('abort', onRunAbort);
  }
  // The step ran `command`; the wrapper around it is transport.
  const result: CommandResult = { ...ran, command };
  // Killed or timed out: the rest of the stream will never come.
  if (result.timedOut || run.signal?.aborted) zstd.kill();
  // Stopped for any reason: what came is discarded, so a slow sink must not hold the step up.
  const stopped = result.timedOut || brokenStream.signal.aborted;
  if (stopped) toSink.detach();
  zstd.stdin.end();
  const problem = await zstd.ended;
  await stopOnBrokenStream;
  let sinkError: Error | undefined;
  if (!stopped) await toSink.delivered.catch((e: Error) => (sinkError = e));

  if (result.exitCode === NO_ZSTD_EXIT && result.stderr.includes(NO_ZSTD_ON_HOST)) {
    const cause = new Error(`compress: remote needs zstd on host ${host}: install the package 'zstd' there, or set ${COMPRESS_HOST_VAR}=local for it`);
    return { ...result, stderr: '', cause };
  }
  if (sinkError && !result.failed) return { ...result, failed: true, cause: sinkError };
  // The command's own failure explains a broken stream; a stream broken while the command did
  // fine (or was stopped for it) is the failure.
  const stoppedForStream = brokenStream.signal.aborted && !run.signal?.aborted;
  if (problem && (!result.failed || stoppedForStream)) {
    return { ...result, failed: true, cause: new Error(`the zstd stream from host ${host} did not decompress: ${problem}`) };
  }
  return result;
}

/** The result of a command that could not be started here. */
function notRun(command: string, host: string, why: string): CommandResult {
  return { command, host, exitCode: undefined, stdout: '', stderr: '', durationMs: 0, timedOut: false, failed: true, cause: new Error(why) };
}
