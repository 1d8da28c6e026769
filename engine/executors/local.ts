/**
 * PLACEHOLDER so the executor factory compiles on the ssh branch; the integrator's real
 * LocalExecutor (execa, process groups, become) replaces this file.
 */
import type { CommandResult, Executor, RunOptions } from './types.js';

export class LocalExecutor implements Executor {
  constructor(readonly hostName: string) {}
  async run(command: string, _options: RunOptions = {}): Promise<CommandResult> {
    throw new Error(`LocalExecutor placeholder cannot run '${command}'`);
  }
  async close(): Promise<void> {}
}
